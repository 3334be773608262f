//! Units a scenario is written in: durations (`"30s"`), times of day (`"08:30"`), whole numbers above
//! zero, numbers above zero, and shares. A leaf: it imports nothing of the crate, so every layer —
//! scenario, plan, exchange, gate — reads and prints these the same way.

use serde::Deserialize;
use std::time::Duration;

/// A value that is not what its unit allows; the message says what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("`{0}` is not a time of day; write \"HH:MM\" or \"HH:MM:SS\"")]
    NotAClockTime(String),
    #[error("`{0}` is not a duration; write e.g. \"500ms\", \"30s\", \"10m\" or \"1h\"")]
    NotADuration(String),
    #[error("`{0}` has no known unit; write e.g. \"500ms\", \"30s\", \"10m\" or \"1h\"")]
    UnknownDurationUnit(String),
    #[error("`{0}` is not a percentage; write e.g. 10% or 0.1")]
    NotAPercentage(String),
    #[error("`{0}` without % reads as a fraction, {0} × 100%; write {0}% for {0} percent")]
    BareFractionOfOneOrMore(String),
    #[error("`{0}` is not a number above 0")]
    NotPositive(String),
    #[error(
        "`{0}` is not a size above 0; write e.g. \"10 MiB\", \"512 KiB\" or a number of bytes"
    )]
    NotABytesSize(String),
    #[error("`{0}` is longer than surge can wait; a duration is at most {MAX_DURATION_TEXT}")]
    DurationTooLong(String),
}

/// The longest duration surge takes anywhere (a year): past it, a deadline added to the clock
/// would overflow, and no load test is meant to wait that long.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);
const MAX_DURATION_TEXT: &str = "8760h (a year)";

/// `seconds` as a duration: a number of 0 or more and at most [`MAX_DURATION`]; `text` is what
/// the user wrote, for the message.
pub fn duration_of_seconds(seconds: f64, text: &str) -> Result<Duration, UnitError> {
    if seconds.is_nan() || seconds < 0.0 {
        return Err(UnitError::NotADuration(text.to_string()));
    }
    match Duration::try_from_secs_f64(seconds) {
        Ok(duration) if duration <= MAX_DURATION => Ok(duration),
        _ => Err(UnitError::DurationTooLong(text.to_string())),
    }
}

/// A time of day, `"HH:MM"` or `"HH:MM:SS"` (up to `"24:00"`), as seconds since midnight.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClockTime(pub f64);

impl<'de> Deserialize<'de> for ClockTime {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_clock(&text)
            .map(ClockTime)
            .map_err(serde::de::Error::custom)
    }
}

/// Parse `"08:30"` or `"08:30:15"` into seconds since midnight.
pub fn parse_clock(text: &str) -> Result<f64, UnitError> {
    let bad = || UnitError::NotAClockTime(text.to_string());
    let parts: Vec<&str> = text.trim().split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return Err(bad());
    }
    let numbers: Vec<u32> = parts
        .iter()
        .map(|p| p.parse::<u32>().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    let (h, m, s) = (numbers[0], numbers[1], numbers.get(2).copied().unwrap_or(0));
    if m >= 60 || s >= 60 || h > 24 || (h == 24 && (m, s) != (0, 0)) {
        return Err(bad());
    }
    Ok(f64::from(h * 3600 + m * 60 + s))
}

/// Whether an interval ending at `clock` belongs to the window `(start, end]` (seconds since
/// midnight; clocks are whole seconds, so a hair of tolerance keeps the ends in).
pub fn ends_within(clock: &str, start: f64, end: f64) -> bool {
    parse_clock(clock).is_ok_and(|c| c > start - 1e-9 && c <= end + 1e-9)
}

/// Write seconds since midnight as `HH:MM:SS`.
pub fn format_clock(seconds: f64) -> String {
    let total = seconds.max(0.0).round() as u64;
    format!(
        "{:02}:{:02}:{:02}",
        total / 3600,
        total / 60 % 60,
        total % 60
    )
}

/// Parse `"250ms"`, `"30s"`, `"10m"`, `"2h"` (a number, then a unit).
pub fn parse_duration(text: &str) -> Result<Duration, UnitError> {
    let text = text.trim();
    // The unit is the letters at the end; the number before it may be written `1.5` or `1e3`.
    let split = text
        .trim_end_matches(|c: char| c.is_ascii_alphabetic())
        .len();
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| UnitError::NotADuration(text.to_string()))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(UnitError::UnknownDurationUnit(text.to_string())),
    };
    duration_of_seconds(seconds, text)
}

/// `"10%"` or `"0.1"` as a fraction. A bare number of 1 or more is refused: `10` meant as 10 %
/// would silently read as 1000 %.
pub fn parse_percent(text: &str) -> Result<f64, UnitError> {
    let text = text.trim();
    let (number, scale) = match text.strip_suffix('%') {
        Some(number) => (number.trim_end(), 100.0),
        None => (text, 1.0),
    };
    match number.parse::<f64>() {
        Ok(n) if scale == 1.0 && n >= 1.0 => Err(UnitError::BareFractionOfOneOrMore(text.into())),
        Ok(n) if n.is_finite() && n >= 0.0 => Ok(n / scale),
        _ => Err(UnitError::NotAPercentage(text.to_string())),
    }
}

/// A number above zero, from text (a time scale on the command line).
pub fn parse_positive(text: &str) -> Result<f64, UnitError> {
    match text.parse::<f64>() {
        Ok(n) if n.is_finite() && n > 0.0 => Ok(n),
        _ => Err(UnitError::NotPositive(text.to_string())),
    }
}

/// A whole number above zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Positive(pub u64);

impl<'de> Deserialize<'de> for Positive {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Says what is wanted in words ("expected u64" is the type's name, not the rule).
        struct WholeAboveZero;
        impl serde::de::Visitor<'_> for WholeAboveZero {
            type Value = u64;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a whole number of 1 or more")
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<u64, E> {
                match n {
                    0 => Err(E::invalid_value(serde::de::Unexpected::Unsigned(0), &self)),
                    n => Ok(n),
                }
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<u64, E> {
                match u64::try_from(n) {
                    Ok(n) => self.visit_u64(n),
                    Err(_) => Err(E::invalid_value(serde::de::Unexpected::Signed(n), &self)),
                }
            }
        }
        d.deserialize_u64(WholeAboveZero).map(Positive)
    }
}

/// A number above zero.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PositiveFloat(pub f64);

impl<'de> Deserialize<'de> for PositiveFloat {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = f64::deserialize(d)?;
        if !(n.is_finite() && n > 0.0) {
            return Err(serde::de::Error::custom("must be a number above 0"));
        }
        Ok(PositiveFloat(n))
    }
}

/// A share: a number from 0 upward (relative weight or fraction).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Share(pub f64);

impl<'de> Deserialize<'de> for Share {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = f64::deserialize(d)?;
        if !(n.is_finite() && n >= 0.0) {
            return Err(serde::de::Error::custom("must be a number of 0 or more"));
        }
        Ok(Share(n))
    }
}

/// A number of bytes, written `"10 MiB"`, `"512 KiB"`, `"1 GiB"`, `"4096 B"` or as a whole number
/// of bytes (`4096`), and above zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl ByteSize {
    pub const MIB: u64 = 1 << 20;
}

impl std::fmt::Display for ByteSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let units = [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
        match units
            .iter()
            .find(|(_, size)| self.0 >= *size && self.0.is_multiple_of(*size))
        {
            Some((unit, size)) => write!(f, "{} {unit}", self.0 / size),
            None => write!(f, "{} bytes", self.0),
        }
    }
}

/// Parse `"10 MiB"` (B, KiB, MiB, GiB; KB, MB, GB as their binary namesakes) into bytes above zero.
pub fn parse_bytes(text: &str) -> Result<u64, UnitError> {
    let bad = || UnitError::NotABytesSize(text.to_string());
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let number: u64 = number.parse().map_err(|_| bad())?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" | "bytes" => 1,
        "kib" | "kb" => 1 << 10,
        "mib" | "mb" => 1 << 20,
        "gib" | "gb" => 1 << 30,
        _ => return Err(bad()),
    };
    match number.checked_mul(scale) {
        Some(bytes) if bytes > 0 => Ok(bytes),
        _ => Err(bad()),
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Size;
        impl serde::de::Visitor<'_> for Size {
            type Value = u64;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a size above 0, e.g. \"10 MiB\" or a number of bytes")
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<u64, E> {
                parse_bytes(&n.to_string()).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<u64, E> {
                parse_bytes(&n.to_string()).map_err(E::custom)
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<u64, E> {
                parse_bytes(text).map_err(E::custom)
            }
        }
        d.deserialize_any(Size).map(ByteSize)
    }
}

/// serde `with` for a duration written as `"30s"`, `"500ms"`, `"10m"`, `"1h"`.
pub mod duration {
    use serde::Deserialize;
    use std::time::Duration;

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

/// serde `with` for an optional duration (use with `#[serde(default)]`).
pub mod duration_option {
    use std::time::Duration;

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        super::duration::deserialize(d).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_times_parse_and_print() {
        assert_eq!(parse_clock("08:30").unwrap(), 30_600.0);
        assert_eq!(parse_clock("24:00").unwrap(), 86_400.0);
        assert!(parse_clock("25:00").is_err());
        assert_eq!(format_clock(30_615.0), "08:30:15");
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("250ms").unwrap().as_millis(), 250);
        assert_eq!(parse_duration("1.5s").unwrap().as_millis(), 1500);
        assert_eq!(parse_duration("2m").unwrap().as_secs(), 120);
        assert!(parse_duration("5 parsecs").is_err());
        assert_eq!(parse_duration("8760h").unwrap(), MAX_DURATION);
        assert_eq!(parse_duration("1e3ms").unwrap().as_secs(), 1);
        assert_eq!(parse_duration(" 2 s ").unwrap().as_secs(), 2);
    }

    #[test]
    fn a_duration_too_long_to_wait_is_refused_not_a_panic() {
        let huge = format!("{}s", "9".repeat(400));
        for text in [
            "100000000000000000000s",
            "8761h",
            "1e20s",
            "inf s",
            "infs",
            &huge,
        ] {
            assert!(parse_duration(text).is_err(), "{text}");
        }
        assert_eq!(
            parse_duration("1e20s").unwrap_err(),
            UnitError::DurationTooLong("1e20s".into())
        );
        for negative in ["-1s", "NaNs", "ms", "-0.5ms"] {
            assert!(parse_duration(negative).is_err(), "{negative}");
        }
        let error = parse_duration("100000000000000000000s")
            .unwrap_err()
            .to_string();
        assert!(error.contains("at most 8760h"), "{error}");
        assert!(duration_of_seconds(f64::INFINITY, "inf").is_err());
        assert!(duration_of_seconds(f64::NAN, "NaN").is_err());
        assert!(duration_of_seconds(-1.0, "-1").is_err());
    }

    #[test]
    fn sizes_parse_and_print() {
        assert_eq!(parse_bytes("10 MiB").unwrap(), 10 << 20);
        assert_eq!(parse_bytes("512KiB").unwrap(), 512 << 10);
        assert_eq!(parse_bytes("4096").unwrap(), 4096);
        for bad in [
            "0",
            "ten MiB",
            "1 parsec",
            "-1 MiB",
            "99999999999999 GiB",
            "",
        ] {
            assert!(parse_bytes(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(ByteSize(10 << 20).to_string(), "10 MiB");
        assert_eq!(ByteSize(1000).to_string(), "1000 bytes");
    }

    #[test]
    fn percentages_parse() {
        assert_eq!(parse_percent("10%").unwrap(), 0.1);
        assert_eq!(parse_percent("0.25").unwrap(), 0.25);
        assert!(parse_percent("ten").is_err());
        // `--tolerance 10` meant as 10 % must not become 1000 %.
        for bare in ["10", "1"] {
            let error = parse_percent(bare).unwrap_err().to_string();
            assert!(error.contains(&format!("write {bare}%")), "{error}");
        }
        assert_eq!(parse_percent("150%").unwrap(), 1.5);
    }
}
