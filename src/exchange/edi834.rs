//! Writer for the initial X12 834 (005010X220A1) an exchange sends an insurer after plan selection.
//!
//! One interchange per enrollment: ISA/GS/ST … SE/GE/IEA, one segment a line, `~` terminated.
//!
//! Exchanges differ in how they write the same 834, and a rehearsal must cope with each: [`Style`]
//! is this exchange's way (`surge exchange --834-separator, --834-ids, --834-premiums`). The
//! element separator is whatever the ISA declares (X12 lets the sender choose: `*` is common, `|`
//! too), ids may go without their zero padding (`REF*1L*123`), and some exchanges send no premium
//! loops at all. Segments are written with `*` and the whole interchange translated once, which is
//! sound because free text is cleaned of both `*` and the separator in use.

use std::fmt::Write as _;
use std::str::FromStr;

/// How this exchange writes its 834s; the default is the FFM's way (`*`, padded ids, premiums).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Style {
    pub separator: Separator,
    pub ids: Ids,
    pub premiums: Premiums,
}

/// How the exchange-assigned ids (`REF*1L`, `REF*0F`, `REF*17`) are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Ids {
    /// Zero-padded to a fixed width, as the FFM writes them (`REF*1L*0000000000123`).
    #[default]
    Padded,
    /// Without the padding (`REF*1L*123`); the API and Pay Now keep the padded id.
    Unpadded,
}

impl Ids {
    /// Id `n`, padded to `width` digits or not.
    pub fn write(self, n: u64, width: usize) -> String {
        match self {
            Ids::Padded => format!("{n:0width$}"),
            Ids::Unpadded => n.to_string(),
        }
    }
}

/// Whether the 834s carry the premium: the 2700/2750 loops (`PRE AMT 1`, `PRE AMT TOT`, …).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Premiums {
    /// Every 834 has its premium loops (an 834 without them is a defect).
    #[default]
    Loops,
    /// No 834 has premium loops: this exchange's insurers take the premium from elsewhere, and
    /// effectuate on the binder payment.
    None,
}

/// The X12 element separator an interchange declares in its ISA (the character after `ISA`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Separator(char);

impl Default for Separator {
    fn default() -> Self {
        Separator('*')
    }
}

impl Separator {
    pub fn char(self) -> char {
        self.0
    }
}

/// A character that cannot separate this exchange's 834 elements.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeparatorError {
    #[error("`{0}` is not one character: give one, e.g. '|' or '*'")]
    NotOneCharacter(String),
    #[error(
        "`{0}` cannot separate elements: it is {1}; use another punctuation character, e.g. '|' or '*'"
    )]
    Taken(char, &'static str),
}

impl FromStr for Separator {
    type Err = SeparatorError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut chars = text.chars();
        let (Some(c), None) = (chars.next(), chars.next()) else {
            return Err(SeparatorError::NotOneCharacter(text.to_string()));
        };
        let taken = match c {
            '~' => "the segment terminator",
            ':' => "the component separator (ISA16)",
            '^' => "the repetition separator (ISA11)",
            '.' | '-' => "in the 834's values (amounts, plan ids)",
            c if !c.is_ascii_punctuation() => "not ASCII punctuation",
            _ => return Ok(Separator(c)),
        };
        Err(SeparatorError::Taken(c, taken))
    }
}

/// A member of the enrollment group (the first one is the subscriber).
#[derive(Debug, Clone)]
pub struct Member834 {
    pub first_name: String,
    pub last_name: String,
    /// INS02: 18 self, 01 spouse, 19 child.
    pub relationship: &'static str,
    /// REF*17, exchange-assigned member id.
    pub member_id: String,
    /// CCYYMMDD
    pub birth_date: String,
    pub premium_cents: u32,
}

/// Everything one initial-enrollment interchange carries.
#[derive(Debug, Clone)]
pub struct Enrollment834 {
    /// ISA13 (9 digits), also GS06 and BGN02's suffix.
    pub control_number: u32,
    /// Receiver: the issuer's HIOS id.
    pub issuer_id: String,
    pub issuer_name: String,
    pub issuer_tin: String,
    /// When the selection was made, UTC: `(CCYYMMDD, HHMMSS)`.
    pub date: String,
    pub time: String,
    /// REF*1L: the exchange policy id, here the Payment Transaction ID.
    pub policy_id: String,
    /// REF*0F: exchange-assigned subscriber id.
    pub subscriber_id: String,
    pub members: Vec<Member834>,
    pub email: String,
    pub street: String,
    pub city: String,
    pub state: String,
    pub zip: String,
    pub county_fips: String,
    /// REF*CE: HIOS plan id + CSR variant, e.g. `11512NC0100031-01`.
    pub plan_variant_id: String,
    pub premium_total_cents: u32,
    pub aptc_cents: u32,
    pub rating_area: String,
    pub source_exchange_id: String,
    /// CCYYMMDD
    pub effective_date: String,
    /// Whether the 2700/2750 loops (premium amounts, rating area…) are written; a defective 834
    /// leaves them out.
    pub with_premiums: bool,
}

const SENDER: &str = "CMSFFM";

/// Strip X12 delimiters (and `separator`, the element separator in use) from free text and
/// upper-case it.
pub fn clean(s: &str, separator: Separator) -> String {
    s.chars()
        .map(|c| {
            if matches!(c, '*' | '~' | ':' | '^' | '\n' | '\r') || c == separator.0 || !c.is_ascii()
            {
                ' '
            } else {
                c
            }
        })
        .collect::<String>()
        .trim()
        .to_ascii_uppercase()
}

fn money(cents: u32) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// Segments of one transaction set, counted as they are written (SE01 counts ST to SE inclusive).
struct Set<'a> {
    out: &'a mut String,
    count: usize,
}

impl Set<'_> {
    fn seg(&mut self, s: std::fmt::Arguments<'_>) {
        let _ = self.out.write_fmt(s);
        self.out.push_str("~\n");
        self.count += 1;
    }
}

/// Append one interchange to `out`, its elements separated by `separator`.
pub fn write(out: &mut String, e: &Enrollment834, separator: Separator) {
    let start = out.len();
    write_with_stars(out, e, separator);
    if separator != Separator::default() {
        let interchange = out.split_off(start);
        out.push_str(&interchange.replace('*', &separator.0.to_string()));
    }
}

/// The interchange written with `*`; free text is cleaned of `separator` too, for the translation.
fn write_with_stars(out: &mut String, e: &Enrollment834, separator: Separator) {
    let clean = |s: &str| clean(s, separator);
    let ctrl = e.control_number;
    let date = &e.date;
    let (yymmdd, hhmm, hhmmss) = (
        date.get(2..8).unwrap_or("000000"),
        e.time.get(..4).unwrap_or("0000"),
        &e.time,
    );
    // ISA is fixed width: ids padded to 15, control number to 9 digits.
    let _ = writeln!(
        out,
        "ISA*00*          *00*          *ZZ*{SENDER:<15}*ZZ*{:<15}*{yymmdd}*{hhmm}*^*00501*{ctrl:09}*0*T*:~",
        e.issuer_id
    );
    let _ = writeln!(
        out,
        "GS*BE*{SENDER}*{}*{date}*{hhmm}*{ctrl}*X*005010X220A1~",
        e.issuer_id
    );

    let mut s = Set { out, count: 0 };
    let st = "0001";
    s.seg(format_args!("ST*834*{st}*005010X220A1"));
    s.seg(format_args!("BGN*00*FFM{ctrl:09}*{date}*{hhmmss}*UT***2"));
    s.seg(format_args!("QTY*TO*{}", e.members.len()));
    s.seg(format_args!("QTY*DT*{}", e.members.len().saturating_sub(1)));
    s.seg(format_args!(
        "N1*P5*HEALTH INSURANCE MARKETPLACE*FI*000000000"
    ));
    s.seg(format_args!(
        "N1*IN*{}*FI*{}",
        clean(&e.issuer_name),
        e.issuer_tin
    ));
    let eff = &e.effective_date;
    for (i, m) in e.members.iter().enumerate() {
        let subscriber = i == 0;
        s.seg(format_args!(
            "INS*{}*{}*021*EC*A***AC**N",
            if subscriber { "Y" } else { "N" },
            m.relationship
        ));
        s.seg(format_args!("REF*0F*{}", e.subscriber_id));
        s.seg(format_args!("REF*17*{}", m.member_id));
        s.seg(format_args!("DTP*356*D8*{eff}"));
        s.seg(format_args!(
            "NM1*IL*1*{}*{}",
            clean(&m.last_name),
            clean(&m.first_name)
        ));
        if subscriber {
            if !e.email.is_empty() {
                s.seg(format_args!("PER*IP**EM*{}", clean(&e.email)));
            }
            s.seg(format_args!("N3*{}", clean(&e.street)));
            s.seg(format_args!(
                "N4*{}*{}*{}**CY*{}",
                clean(&e.city),
                e.state,
                e.zip,
                e.county_fips
            ));
        }
        s.seg(format_args!("DMG*D8*{}*U", m.birth_date));
        s.seg(format_args!("HD*021**HLT"));
        s.seg(format_args!("DTP*348*D8*{eff}"));
        s.seg(format_args!("REF*CE*{}", e.plan_variant_id));
        s.seg(format_args!("REF*1L*{}", e.policy_id));
        if !e.with_premiums {
            continue;
        }
        s.seg(format_args!("LS*2700"));
        let mut lx = 0;
        let mut category = |s: &mut Set<'_>, name: &str, qual: &str, value: &str, dated: bool| {
            lx += 1;
            s.seg(format_args!("LX*{lx}"));
            s.seg(format_args!("N1*75*{name}"));
            s.seg(format_args!("REF*{qual}*{value}"));
            if dated {
                s.seg(format_args!("DTP*007*D8*{eff}"));
            }
        };
        category(&mut s, "PRE AMT 1", "9X", &money(m.premium_cents), true);
        if subscriber {
            let owed = e.premium_total_cents.saturating_sub(e.aptc_cents);
            category(
                &mut s,
                "PRE AMT TOT",
                "9X",
                &money(e.premium_total_cents),
                true,
            );
            category(&mut s, "APTC AMT", "9V", &money(e.aptc_cents), true);
            category(&mut s, "TOT RES AMT", "9V", &money(owed), true);
            category(&mut s, "RATING AREA", "9X", &e.rating_area, true);
            category(
                &mut s,
                "SOURCE EXCHANGE ID",
                "17",
                &e.source_exchange_id,
                false,
            );
            category(
                &mut s,
                "REQUEST SUBMIT TIMESTAMP",
                "17",
                &format!("{date}{hhmmss}"),
                false,
            );
        }
        s.seg(format_args!("LE*2700"));
    }
    let count = s.count + 1;
    s.seg(format_args!("SE*{count}*{st}"));
    let _ = write!(out, "GE*1*{ctrl}~\nIEA*1*{ctrl:09}~\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> Enrollment834 {
        let member = |first: &str, rel, id: &str, cents| Member834 {
            first_name: first.into(),
            last_name: "Doe".into(),
            relationship: rel,
            member_id: id.into(),
            birth_date: "19800412".into(),
            premium_cents: cents,
        };
        Enrollment834 {
            control_number: 42,
            issuer_id: "11512".into(),
            issuer_name: "Tar Heel Mutual".into(),
            issuer_tin: "560894904".into(),
            date: "20131216".into(),
            time: "041500".into(),
            policy_id: "0000000000042".into(),
            subscriber_id: "0000000042".into(),
            members: vec![
                member("Jane", "18", "0000000042", 30_000),
                member("John", "01", "0000000043", 20_012),
            ],
            email: "jane*doe@example.com".into(),
            street: "100 MAIN ST".into(),
            city: "RALEIGH".into(),
            state: "NC".into(),
            zip: "27601".into(),
            county_fips: "37183".into(),
            plan_variant_id: "11512NC0100031-01".into(),
            premium_total_cents: 50_012,
            aptc_cents: 14_821,
            rating_area: "R-NC004".into(),
            source_exchange_id: "NC0".into(),
            effective_date: "20140101".into(),
            with_premiums: true,
        }
    }

    #[test]
    fn envelope_counts_and_controls() {
        let mut out = String::new();
        write(&mut out, &sample(), Separator::default());
        let segs: Vec<&str> = out.lines().map(|l| l.trim_end_matches('~')).collect();
        assert_eq!(out.lines().next().map(str::len), Some(106));
        let st = segs.iter().position(|s| s.starts_with("ST*")).unwrap();
        let se = segs.iter().position(|s| s.starts_with("SE*")).unwrap();
        assert_eq!(segs[se], format!("SE*{}*0001", se - st + 1));
        assert!(segs[1].split('*').nth(6) == Some("42"));
        assert_eq!(segs[se + 1], "GE*1*42");
        assert_eq!(segs[se + 2], "IEA*1*000000042");
        assert!(
            out.contains("REF*9X*500.12~")
                && out.contains("REF*9V*148.21~")
                && out.contains("REF*9V*351.91~")
        );
        assert!(
            out.contains("PER*IP**EM*JANE DOE@EXAMPLE.COM~"),
            "delimiters are stripped"
        );
    }

    #[test]
    fn without_premiums_the_envelope_still_counts() {
        let mut out = String::new();
        write(
            &mut out,
            &Enrollment834 {
                with_premiums: false,
                ..sample()
            },
            Separator::default(),
        );
        let segs: Vec<&str> = out.lines().map(|l| l.trim_end_matches('~')).collect();
        let st = segs.iter().position(|s| s.starts_with("ST*")).unwrap();
        let se = segs.iter().position(|s| s.starts_with("SE*")).unwrap();
        assert_eq!(segs[se], format!("SE*{}*0001", se - st + 1));
        assert!(!out.contains("N1*75*") && !out.contains("LS*2700"));
        assert_eq!(out.matches("REF*1L*").count(), 2);
    }

    #[test]
    fn another_separator_is_declared_in_the_isa_and_used_throughout() {
        let pipe: Separator = "|".parse().unwrap();
        // Free text is cleaned of the separator in use.
        let named = Enrollment834 {
            issuer_name: "Tar|Heel Mutual".into(),
            ..sample()
        };
        let (mut stars, mut pipes) = (String::new(), String::new());
        write(&mut stars, &sample(), Separator::default());
        write(&mut pipes, &named, pipe);
        let isa = pipes.lines().next().unwrap();
        assert!(isa.starts_with("ISA|00|"), "{isa}");
        assert_eq!(isa.len(), 106, "the ISA keeps its fixed width");
        assert!(
            isa.ends_with("|0|T|:~"),
            "ISA16 stays the component separator"
        );
        assert!(!pipes.contains('*'), "no element is separated by `*`");
        assert!(pipes.contains("N1|IN|TAR HEEL MUTUAL|FI|560894904~"));
        assert!(stars.contains("N1*IN*TAR HEEL MUTUAL*FI*560894904~"));
        assert_eq!(
            pipes.replace('|', "*"),
            stars,
            "the same interchange, only the separator differs"
        );
    }

    #[test]
    fn ids_are_padded_or_not() {
        assert_eq!(Ids::Padded.write(123, 13), "0000000000123");
        assert_eq!(Ids::Unpadded.write(123, 13), "123");
        assert_eq!(Ids::Unpadded.write(0, 10), "0");
    }

    #[test]
    fn a_separator_the_834_uses_for_something_else_is_refused() {
        assert_eq!("*".parse::<Separator>(), Ok(Separator::default()));
        assert_eq!("!".parse::<Separator>().map(Separator::char), Ok('!'));
        for (text, message) in [
            ("||", "`||` is not one character: give one, e.g. '|' or '*'"),
            ("", "`` is not one character: give one, e.g. '|' or '*'"),
            (
                "~",
                "`~` cannot separate elements: it is the segment terminator; use another punctuation character, e.g. '|' or '*'",
            ),
            (
                "^",
                "`^` cannot separate elements: it is the repetition separator (ISA11); use another punctuation character, e.g. '|' or '*'",
            ),
            (
                ".",
                "`.` cannot separate elements: it is in the 834's values (amounts, plan ids); use another punctuation character, e.g. '|' or '*'",
            ),
            (
                "x",
                "`x` cannot separate elements: it is not ASCII punctuation; use another punctuation character, e.g. '|' or '*'",
            ),
        ] {
            let e = text.parse::<Separator>().expect_err(text);
            assert_eq!(e.to_string(), message);
        }
    }
}
