//! Just enough X12 to read 834 files: interchanges (ISA … IEA) split with the separators their own
//! ISA declares — the element separator is the character after `ISA`, the segment terminator the one
//! after ISA16 — since `*` and `~` are common but not guaranteed. Line breaks around segments are
//! ignored, as most files put one segment per line.

/// One interchange: its segments, and the element separator they use.
pub struct Interchange<'a> {
    element: char,
    segments: Vec<&'a str>,
}

/// Every interchange in `text`, in order; text around them is skipped. One at a time: a morning's
/// inbox holds tens of thousands, and their segments together take most of the text's size again.
pub fn interchanges(text: &str) -> impl Iterator<Item = Interchange<'_>> {
    let mut rest = text;
    std::iter::from_fn(move || {
        while let Some(start) = rest.find("ISA") {
            let isa = &rest[start..];
            match interchange(isa) {
                Some((interchange, used)) => {
                    rest = &isa[used..];
                    return Some(interchange);
                }
                None => rest = &isa[3..],
            }
        }
        None
    })
}

/// The interchange at the start of `isa`, and how many bytes it spans.
fn interchange(isa: &str) -> Option<(Interchange<'_>, usize)> {
    let element = isa[3..].chars().next()?;
    if element.is_alphanumeric() || element.is_whitespace() {
        return None;
    }
    // ISA has 16 elements: ISA16 (one character) follows the 16th separator, the terminator it.
    let (sixteenth, _) = isa.char_indices().filter(|(_, c)| *c == element).nth(15)?;
    let mut after = isa[sixteenth + element.len_utf8()..].chars();
    let _component = after.next()?;
    let terminator = after.next()?;
    let mut segments = Vec::new();
    let mut used = 0;
    for raw in split(isa, terminator) {
        used += raw.len() + terminator.len_utf8();
        let segment = raw.trim();
        if segment.is_empty() {
            continue;
        }
        segments.push(segment);
        if segment.starts_with("IEA") && segment[3..].starts_with(element) {
            break;
        }
    }
    Some((Interchange { element, segments }, used.min(isa.len())))
}

/// `text` cut at every `separator`. A predicate, not `str::split(char)`: that one compares each
/// match through a call to `memcmp`, and X12 has a separator every few bytes: with it (and a
/// vector per segment) reading an inbox took 2.4 times as long (`cargo bench --bench cracks`).
#[allow(
    clippy::manual_pattern_char_comparison,
    reason = "the predicate is the point"
)]
fn split(text: &str, separator: char) -> std::str::Split<'_, impl FnMut(char) -> bool> {
    text.split(move |c: char| c == separator)
}

impl<'a> Interchange<'a> {
    /// A segment's elements, its id first; read lazily, as most segments are skipped on their id.
    fn elements(&self, segment: &'a str) -> std::str::Split<'a, impl FnMut(char) -> bool> {
        split(segment, self.element)
    }

    fn segment(&self, id: &str) -> Option<Vec<&'a str>> {
        self.segments
            .iter()
            .map(|s| self.elements(s).collect::<Vec<_>>())
            .find(|e| e[0] == id)
    }

    /// Whom it is addressed to: the application receiver (GS03), else the interchange receiver
    /// (ISA08) — the insurer's id.
    pub fn receiver(&self) -> String {
        let from = |id: &str, n: usize| {
            self.segment(id)
                .and_then(|e| e.get(n).map(|v| v.trim().to_string()))
                .filter(|v| !v.is_empty())
        };
        from("GS", 3).or_else(|| from("ISA", 8)).unwrap_or_default()
    }

    /// Each 834 transaction set (ST … SE): the value of its first `REF*{reference}`, and whether
    /// it carries the premium (`N1*75*PRE AMT TOT`).
    pub fn enrollments(&self, reference: &str) -> Vec<(String, bool)> {
        let mut found = Vec::new();
        let mut current: Option<(Option<String>, bool)> = None;
        for segment in &self.segments {
            let mut e = self.elements(segment);
            match e.next().unwrap_or_default() {
                "ST" if e.next() == Some("834") => current = Some((None, false)),
                "REF" if e.next() == Some(reference) => {
                    if let (Some((id, _)), Some(value)) = (current.as_mut(), e.next()) {
                        id.get_or_insert_with(|| value.trim().to_string());
                    }
                }
                "N1" if e.next() == Some("75") && e.next() == Some("PRE AMT TOT") => {
                    if let Some((_, premium)) = current.as_mut() {
                        *premium = true;
                    }
                }
                "SE" => {
                    if let Some((Some(id), premium)) = current.take() {
                        found.push((id, premium));
                    }
                }
                _ => {}
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An interchange as the embedded exchange writes it, for insurer `to`.
    fn sample(to: &str, ptid: &str, member: &str) -> String {
        format!(
            "ISA*00*          *00*          *ZZ*CMSFFM         *ZZ*{to:<15}*261127*2008*^*00501*000000001*0*T*:~\
             GS*BE*CMSFFM*{to}*20261127*2008*1*X*005010X220A1~ST*834*0001*005010X220A1~\
             REF*0F*{member}~REF*17*{member}~REF*1L*{ptid}~LX*1~N1*75*PRE AMT TOT~REF*9X*212.69~\
             SE*9*0001~GE*1*1~IEA*1*000000001~"
        )
    }

    #[test]
    fn reads_the_separators_each_isa_declares() {
        let star = sample("11512", "0000000000001", "0000000100");
        // The same interchange with `|` between elements and one segment per line.
        let pipe = sample("54332", "0000000000002", "0000000200")
            .replace('*', "|")
            .replace('~', "\n");
        let text = format!("{star}\n{pipe}");
        let found: Vec<_> = interchanges(&text).collect();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].receiver(), "11512");
        assert_eq!(found[1].receiver(), "54332");
        assert_eq!(
            found[1].enrollments("1L"),
            vec![("0000000000002".to_string(), true)]
        );
        assert_eq!(
            found[0].enrollments("0F"),
            vec![("0000000100".to_string(), true)]
        );
    }

    #[test]
    fn text_that_is_not_x12_has_no_interchange() {
        assert_eq!(interchanges("ISAAC asked: no ISA here").count(), 0);
        assert_eq!(interchanges("").count(), 0);
    }
}
