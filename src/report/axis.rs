//! What the charts' axes and labels print: clock ticks on round times, numbers as people write
//! them, names shortened where a word ends.

/// Tick steps for a scenario clock, in seconds: round to a reader at every scale.
const CLOCK_STEPS: [f64; 17] = [
    1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
    10800.0, 21600.0, 43200.0,
];

/// Ticks for a clock axis from `start` to `end` (seconds since midnight): the multiples of the
/// smallest round step that gives at most `at_most` of them (00:00, 02:00, … for a morning).
pub fn clock_ticks(start: f64, end: f64, at_most: usize) -> Vec<f64> {
    let span = (end - start).max(1.0);
    let step = CLOCK_STEPS
        .into_iter()
        .find(|step| span / step < at_most as f64)
        .unwrap_or(86400.0);
    let first = (start / step).ceil() as i64;
    let last = (end / step).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

/// A number on an axis: whole numbers without ".0", others with what they need.
pub fn number(value: &f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        let text = format!("{value:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// `name` in at most `width` characters, cut where a word ends and marked with "…".
pub fn short_name(name: &str, width: usize) -> String {
    if name.chars().count() <= width {
        return name.to_string();
    }
    let room: String = name.chars().take(width.saturating_sub(1)).collect();
    let cut = match room.rfind(' ') {
        Some(at) if at > 0 => &room[..at],
        _ => &room,
    };
    format!("{}…", cut.trim_end_matches([' ', ',', '-']))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_morning_is_ticked_every_two_hours_and_a_short_run_on_round_seconds() {
        assert_eq!(
            clock_ticks(0.0, 12.0 * 3600.0, 8),
            [0, 2, 4, 6, 8, 10, 12].map(|h| h as f64 * 3600.0)
        );
        assert_eq!(
            clock_ticks(9.0 * 3600.0 + 1.0, 9.0 * 3600.0 + 50.0, 6),
            [10.0, 20.0, 30.0, 40.0, 50.0].map(|s| 9.0 * 3600.0 + s)
        );
        assert!(clock_ticks(0.0, 1.0, 6).contains(&0.0));
    }

    #[test]
    fn counts_print_without_a_decimal_point() {
        assert_eq!(number(&50000.0), "50000");
        assert_eq!(number(&0.0), "0");
        assert_eq!(number(&2.5), "2.5");
        assert_eq!(number(&0.125), "0.125");
    }

    #[test]
    fn names_are_cut_where_a_word_ends() {
        assert_eq!(
            short_name("Lone Star Health Alliance of Texas", 24),
            "Lone Star Health…"
        );
        assert_eq!(short_name("Tar Heel Mutual", 24), "Tar Heel Mutual");
        assert_eq!(short_name("Supercalifragilistic", 8), "Superca…");
    }
}
