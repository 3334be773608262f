//! The cracks report: after a run, reconcile every applicant who selected a plan with the insurers'
//! own records (their 834 inboxes), and list who fell through the cracks, per insurer.
//!
//! Classes (an applicant can be in several):
//! - `never_redirected`: selected a plan, but the exchange's Pay Now page never sent them on;
//! - `broken_redirect`: sent on, but the insurer's landing page failed (broken link, dead host,
//!   refused SAML), so they never reached the payment page;
//! - `paid_no_834`: paid the insurer, who has no enrollment (834) for them;
//! - `834_no_payment`: the insurer has their 834, but they never paid;
//! - `unknown_to_insurer`: the exchange believes them enrolled; the insurer has neither an 834 nor
//!   a payment;
//! - and the 834 defects seen in the inboxes: `duplicate_834`, `834_without_premium` (not a defect
//!   where the scenario says the exchange's 834s carry no premium loops), `wrong_insurer_834`
//!   (their 834 went to another insurer).
//!
//! Where the 834s are and how their ids are read is the scenario's `[cracks]` ([`EdiSource`],
//! [`Matching`]): the target's inboxes by default, or a directory or another exchange. A
//! reconciliation that matched under half of the paid applicants says so ([`matching`]), and an
//! insurer's status word the journey file did not map to surge's is counted and located
//! ([`locate_unmapped`]): neither is ever a silent zero.
//!
//! `effectuated` in an insurer's cracks is "covered (834 + payment)" — the insurer holds the 834
//! and the payment — not the funnel's stage of that name (the insurer's policy API said active):
//! an insurer may call a policy active before its 834 arrives, so the two may differ.

mod matching;
mod x12;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::access::Access;
use crate::rundir::enrollments::{self, is_status_word, Enrollment, STATUS_WORDS};
use crate::rundir::summary::{Cracks, InsurerCracks, CRACK_CLASSES as CLASSES};
use crate::rundir::RunDirError;
use crate::scenario::CracksSpec;
pub use matching::Matching;

/// The insurers' records could not be fetched from a target that offers them.
#[derive(Debug, thiserror::Error)]
#[error("cannot fetch the insurers' records from {url}: {cause}")]
pub struct RecordsError {
    pub url: String,
    pub cause: String,
}

/// Visit ids kept as examples per class.
const EXAMPLES: usize = 10;

/// One 834 an insurer holds.
#[derive(Debug)]
struct Held {
    /// The insurer whose inbox held it (or to whom its file addressed it).
    insurer: String,
    /// Whether it carried the premium amounts (`N1*75*PRE AMT TOT`).
    premium: bool,
}

/// What the insurers hold: for each Payment Transaction ID (as [`Matching`] reads it), the 834s
/// found, by inbox.
#[derive(Debug, Default)]
pub struct InsurerRecords {
    matching: Matching,
    by_ptid: HashMap<String, Vec<Held>>,
    /// Every id the 834s carry, as written, once each, in the order read: the examples a
    /// mismatch shows, and what another way of matching is tried on.
    written: Vec<String>,
    seen: HashSet<String>,
}

impl InsurerRecords {
    pub fn new(matching: Matching) -> Self {
        Self {
            matching,
            ..Self::default()
        }
    }

    /// Add every 834 transaction of one insurer's inbox (X12 text).
    pub fn add_inbox(&mut self, insurer: &str, x12: &str) {
        for interchange in x12::interchanges(x12) {
            self.add(insurer, &interchange);
        }
    }

    /// Add an 834 file: each interchange goes to the insurer it is addressed to (GS03, else ISA08).
    pub fn add_file(&mut self, x12: &str) -> usize {
        let mut count = 0;
        for interchange in x12::interchanges(x12) {
            let insurer = interchange.receiver();
            self.add(&insurer, &interchange);
            count += 1;
        }
        count
    }

    fn add(&mut self, insurer: &str, interchange: &x12::Interchange<'_>) {
        for (id, premium) in interchange.enrollments(&self.matching.reference) {
            self.by_ptid
                .entry(self.matching.key(&id))
                .or_default()
                .push(Held {
                    insurer: insurer.to_string(),
                    premium,
                });
            if self.seen.insert(id.clone()) {
                self.written.push(id);
            }
        }
    }

    fn held(&self, ptid: &str) -> &[Held] {
        self.by_ptid
            .get(&self.matching.key(ptid))
            .map_or(&[][..], Vec::as_slice)
    }
}

/// Where the insurers' 834s are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EdiSource {
    /// The target's own `/issuers/{id}/834` inboxes, when it offers them (the default).
    Target(String),
    /// Another exchange's inboxes (`[cracks] source` or `--834` a URL).
    Exchange(String),
    /// A directory of X12 files, or one file.
    Files(PathBuf),
}

impl EdiSource {
    /// `written` (a URL, or a path relative to `relative_to`), or the target's inboxes without it.
    pub fn of(written: Option<&str>, relative_to: &Path, target: &str) -> EdiSource {
        match written {
            None => EdiSource::Target(target.trim_end_matches('/').to_string()),
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                EdiSource::Exchange(url.trim_end_matches('/').to_string())
            }
            Some(path) => EdiSource::Files(crate::scenario::resolve(relative_to, Path::new(path))),
        }
    }

    /// The source, for people.
    pub fn describe(&self) -> String {
        match self {
            // The target is the summary's own: naming it again would make two runs' cracks differ.
            EdiSource::Target(_) => "the target's 834 inboxes, GET /issuers/ID/834".to_string(),
            EdiSource::Exchange(url) => format!("the 834 inboxes of {url}"),
            EdiSource::Files(path) => format!("the 834 files in {}", path.display()),
        }
    }

    /// Read every 834 it holds; `Ok(None)` when the target offers no inboxes. Headers and query
    /// parameters of `access` go to the target alone, never to another exchange.
    pub async fn read(
        &self,
        access: &Access,
        matching: &Matching,
    ) -> Result<Option<InsurerRecords>, RecordsError> {
        match self {
            EdiSource::Target(url) => fetch_records(url, access, matching).await,
            EdiSource::Exchange(url) => {
                let foreign = Access {
                    headers: Vec::new(),
                    query: Vec::new(),
                    ..access.clone()
                };
                match fetch_records(url, &foreign, matching).await? {
                    Some(records) => Ok(Some(records)),
                    None => Err(RecordsError {
                        url: url.clone(),
                        cause: "it serves no insurers' inboxes (404 on /api/v1/issuers)".into(),
                    }),
                }
            }
            EdiSource::Files(path) => read_files(path, matching.clone()).map(Some),
        }
    }
}

/// Read every 834 file under `path` (a file, or a directory's files, not recursing).
pub fn read_files(path: &Path, matching: Matching) -> Result<InsurerRecords, RecordsError> {
    let failed = |p: &Path, cause: &dyn std::fmt::Display| RecordsError {
        url: p.display().to_string(),
        cause: cause.to_string(),
    };
    if !path.exists() {
        return Err(failed(path, &"no such file or directory"));
    }
    let mut files: Vec<std::path::PathBuf> = if path.is_dir() {
        std::fs::read_dir(path)
            .map_err(|e| failed(path, &e))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect()
    } else {
        vec![path.to_owned()]
    };
    files.sort();
    let mut records = InsurerRecords::new(matching);
    let mut found = 0;
    for file in &files {
        let bytes = std::fs::read(file).map_err(|e| failed(file, &e))?;
        found += records.add_file(&String::from_utf8_lossy(&bytes));
    }
    if found == 0 {
        return Err(failed(path, &"no X12 interchange (ISA … IEA) in any file"));
    }
    Ok(records)
}

/// Reconcile the applicants of `enrollments.csv` with the insurers' records (`None` when they
/// could not be read).
pub fn reconcile(applicants: &[Enrollment], records: Option<&InsurerRecords>) -> Cracks {
    let mut cracks = Cracks {
        insurer_records: records.is_some(),
        ..Cracks::default()
    };
    // By visit id, so the examples are the same for the same seed whatever order visits finished in.
    let mut ordered: Vec<&Enrollment> = applicants.iter().collect();
    ordered.sort_by_key(|a| a.visit);
    for applicant in &ordered {
        if !is_status_word(&applicant.confirmed) {
            *cracks
                .unmapped_status
                .entry(applicant.confirmed.clone())
                .or_insert(0) += 1;
        }
        let insurer = cracks
            .insurers
            .entry(applicant.issuer_id.clone())
            .or_insert_with(|| InsurerCracks {
                name: applicant.issuer_name.clone(),
                classes: CLASSES.iter().map(|c| (c.to_string(), 0)).collect(),
                ..InsurerCracks::default()
            });
        insurer.applications += 1;
        insurer.pay_now += u64::from(applicant.pay_now);
        insurer.redirected += u64::from(applicant.reached_payment);
        insurer.paid += u64::from(applicant.paid);

        let mut classes: Vec<&str> = Vec::new();
        if !applicant.pay_now {
            classes.push("never_redirected");
        } else if !applicant.reached_payment {
            classes.push("broken_redirect");
        }
        match records {
            Some(records) => {
                let held = records.held(&applicant.payment_transaction_id);
                let own: Vec<&Held> = held
                    .iter()
                    .filter(|h| h.insurer == applicant.issuer_id)
                    .collect();
                let has_834 = !own.is_empty();
                // An exchange whose 834s carry no premium loops: the 834 itself is enough.
                let complete = own.iter().any(|h| h.premium || !records.matching.premiums);
                match (applicant.paid, has_834) {
                    (true, false) => classes.push("paid_no_834"),
                    (false, true) => classes.push("834_no_payment"),
                    (false, false) => classes.push("unknown_to_insurer"),
                    (true, true) => {}
                }
                if own.len() > 1 {
                    classes.push("duplicate_834");
                }
                if has_834 && !complete {
                    classes.push("834_without_premium");
                }
                if held.iter().any(|h| h.insurer != applicant.issuer_id) {
                    classes.push("wrong_insurer_834");
                }
                insurer.effectuated += u64::from(applicant.paid && complete);
            }
            None => {
                insurer.effectuated += u64::from(applicant.confirmed == "effectuated");
            }
        }
        insurer.fell_through += u64::from(!classes.is_empty());
        for class in classes {
            *insurer.classes.entry(class.to_string()).or_insert(0) += 1;
            let examples = insurer.examples.entry(class.to_string()).or_default();
            if examples.len() < EXAMPLES {
                examples.push(applicant.visit);
            }
        }
    }
    if let Some(records) = records {
        cracks.matching = Some(matching::report(&ordered, records));
    }
    cracks
}

/// Name where `confirmed` is written (`FILE:LINE`) and say, in `warnings`, which of its words
/// surge does not know: they count as neither active at the insurer nor waiting, never silently.
pub fn locate_unmapped(cracks: &mut Cracks, confirmed_at: Option<String>) {
    cracks.confirmed_at = confirmed_at;
    cracks
        .warnings
        .retain(|w| !w.contains("[enrollment] confirmed"));
    if cracks.unmapped_status.is_empty() {
        return;
    }
    let words: Vec<String> = cracks
        .unmapped_status
        .iter()
        .map(|(word, n)| {
            format!(
                "`{word}` for {n} applicant{}",
                if *n == 1 { "" } else { "s" }
            )
        })
        .collect();
    let example: Vec<String> = cracks
        .unmapped_status
        .keys()
        .take(2)
        .map(|word| format!("{word} = \"effectuated\""))
        .collect();
    let at = match &cracks.confirmed_at {
        Some(at) => format!("{at}: "),
        None => String::new(),
    };
    cracks.warnings.push(format!(
        "{at}[enrollment] confirmed wrote {}: not surge's words ({}), so they count as neither \
         active at the insurer nor waiting; map the insurer's words to surge's in the journey \
         file, e.g. [enrollment] status_map = {{ {} }}",
        words.join(", "),
        STATUS_WORDS.join(", "),
        example.join(", ")
    ));
}

/// Fetch every insurer's inbox from `target` (the Marketplace `GET /api/v1/issuers` list, then
/// `GET /issuers/{id}/834`). `Ok(None)` when the target does not offer them (404 on the list).
pub async fn fetch_records(
    target: &str,
    access: &Access,
    matching: &Matching,
) -> Result<Option<InsurerRecords>, RecordsError> {
    #[derive(Deserialize)]
    struct Page {
        issuers: Vec<Issuer>,
        total: usize,
    }
    #[derive(Deserialize)]
    struct Issuer {
        id: String,
    }
    // Secrets in the query (an API key) never reach a message.
    let failed = |url: &str, cause: &dyn std::fmt::Display| RecordsError {
        url: access.redact(url),
        cause: access.redact(&cause.to_string()),
    };
    let get = |client: &reqwest::Client, url: &str| {
        let mut url = reqwest::Url::parse(url).map_err(|e| failed(url, &e))?;
        if !access.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&access.query);
        }
        let mut request = client.get(url);
        for (name, value) in &access.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        Ok::<_, RecordsError>(request)
    };
    // The insurers' inboxes are the target's own routes: no redirect is followed (the access
    // headers would go with it), and no reply is read past MAX_INBOX.
    let client = access
        .tls(reqwest::Client::builder())
        .timeout(std::time::Duration::from_secs(120))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| failed(target, &e))?;
    let mut ids = Vec::new();
    loop {
        let url = format!("{target}/api/v1/issuers?limit=100&offset={}", ids.len());
        let response = get(&client, &url)?
            .send()
            .await
            .map_err(|e| failed(&url, &e))?;
        if response.status() == reqwest::StatusCode::NOT_FOUND && ids.is_empty() {
            return Ok(None);
        }
        let response = response.error_for_status().map_err(|e| failed(&url, &e))?;
        let body = read_bounded(response).await.map_err(|e| failed(&url, &e))?;
        let page: Page = serde_json::from_str(&body).map_err(|e| failed(&url, &e))?;
        let got = page.issuers.len();
        ids.extend(page.issuers.into_iter().map(|i| i.id));
        if got == 0 || ids.len() >= page.total {
            break;
        }
    }
    let mut records = InsurerRecords::new(matching.clone());
    for id in ids {
        let url = format!("{target}/issuers/{id}/834");
        let response = get(&client, &url)?
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| failed(&url, &e))?;
        let inbox = read_bounded(response).await.map_err(|e| failed(&url, &e))?;
        records.add_inbox(&id, &inbox);
    }
    Ok(Some(records))
}

/// The most an insurer's inbox (or a page of the list) may bring: a morning's 834s are a few
/// hundred megabytes at most.
const MAX_INBOX: u64 = 1 << 30;

/// Why an insurer's reply could not be read.
#[derive(Debug, thiserror::Error)]
enum Unreadable {
    #[error(transparent)]
    Transport(#[from] reqwest::Error),
    #[error("reply larger than {}", crate::units::ByteSize(MAX_INBOX))]
    TooLarge,
    #[error("reply is not UTF-8 ({0})")]
    NotText(#[from] std::string::FromUtf8Error),
}

/// A reply's body as text, given up past [`MAX_INBOX`] bytes.
async fn read_bounded(mut response: reqwest::Response) -> Result<String, Unreadable> {
    // Sized from the length the reply declares: grown by doubling, a morning's inbox was copied
    // several times over into fresh pages.
    let declared = response.content_length().unwrap_or(0).min(MAX_INBOX);
    let mut body = Vec::with_capacity(declared as usize);
    while let Some(chunk) = response.chunk().await? {
        if (body.len() + chunk.len()) as u64 > MAX_INBOX {
            return Err(Unreadable::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8(body)?)
}

/// How a finished run's applicants are reconciled: against what, matched how, and where the
/// journey file writes the insurer's answer.
pub struct Reconciling<'a> {
    pub target: &'a str,
    /// Headers and certificates for the target's inboxes.
    pub access: &'a Access,
    /// The scenario's `[cracks]`.
    pub spec: &'a CracksSpec,
    /// The scenario file, which a relative `source` is relative to.
    pub scenario_path: &'a Path,
    /// The journey file's `[enrollment] confirmed`, `FILE:LINE`.
    pub confirmed_at: Option<String>,
}

/// The whole report for a finished run: its applicants, reconciled with the insurers' records
/// where the scenario's `[cracks]` says they are (the target's inboxes by default). When they
/// cannot be read the report says why (`records_error`) and counts only what the harness saw
/// itself.
pub async fn report(run_dir: &Path, how: &Reconciling<'_>) -> Result<Cracks, RunDirError> {
    let applicants = enrollments::read(&run_dir.join(enrollments::FILE_NAME))?;
    let source = EdiSource::of(how.spec.source.as_deref(), how.scenario_path, how.target);
    let mut cracks = if applicants.is_empty() {
        reconcile(&applicants, None)
    } else {
        let read = match Matching::from_spec(how.spec) {
            Ok(matching) => source.read(how.access, &matching).await,
            Err(e) => Err(RecordsError {
                url: "[cracks]".into(),
                cause: e.to_string(),
            }),
        };
        match read {
            Ok(records) => reconcile(&applicants, records.as_ref()),
            Err(e) => Cracks {
                records_error: Some(e.to_string()),
                ..reconcile(&applicants, None)
            },
        }
    };
    // The target's inboxes are the default: named only when they were there to read.
    if cracks.insurer_records || !matches!(source, EdiSource::Target(_)) {
        cracks.source = Some(source.describe());
    }
    locate_unmapped(&mut cracks, how.confirmed_at.clone());
    Ok(cracks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applicant(visit: u64, ptid: &str, pay_now: bool, reached: bool, paid: bool) -> Enrollment {
        Enrollment {
            visit,
            issuer_id: "11512".into(),
            issuer_name: "Tar Heel".into(),
            payment_transaction_id: ptid.into(),
            pay_now,
            reached_payment: reached,
            paid,
            confirmed: String::new(),
        }
    }

    fn interchange(ptid: &str, premium: bool) -> String {
        let amounts = if premium {
            "LX*1~N1*75*PRE AMT TOT~REF*9X*100.00~"
        } else {
            ""
        };
        format!(
            "ISA*00*          *00*          *ZZ*CMSFFM         *ZZ*11512          *261127*2008*^*00501*000000001*0*T*:~\
             GS*BE*CMSFFM*11512*20261127*2008*1*X*005010X220A1~ST*834*0001*005010X220A1~BGN*00~\
             REF*1L*{ptid}~{amounts}SE*6*0001~GE*1*1~IEA*1*1~\n"
        )
    }

    #[test]
    fn scans_each_transaction() {
        let x12 = interchange("0000000000001", true) + &interchange("0000000000002", false);
        assert_eq!(
            x12::interchanges(&x12)
                .flat_map(|i| i.enrollments("1L"))
                .collect::<Vec<_>>(),
            vec![
                ("0000000000001".to_string(), true),
                ("0000000000002".to_string(), false)
            ]
        );
    }

    #[test]
    fn every_class_is_found() {
        let mut records = InsurerRecords::default();
        records.add_inbox("11512", &interchange("ok", true));
        records.add_inbox("11512", &interchange("dup", true));
        records.add_inbox("11512", &interchange("dup", true));
        records.add_inbox("11512", &interchange("bare", false));
        records.add_inbox("11512", &interchange("unpaid", true));
        records.add_inbox("99999", &interchange("misrouted", true));
        let applicants = [
            applicant(1, "ok", true, true, true),
            applicant(2, "dup", true, true, true),
            applicant(3, "bare", true, true, true),
            applicant(4, "unpaid", true, false, false),
            applicant(5, "misrouted", true, true, true),
            applicant(6, "nothing", false, false, false),
        ];
        let cracks = reconcile(&applicants, Some(&records));
        let insurer = &cracks.insurers["11512"];
        assert_eq!(
            (
                insurer.applications,
                insurer.pay_now,
                insurer.redirected,
                insurer.paid
            ),
            (6, 5, 4, 4)
        );
        assert_eq!(insurer.effectuated, 2, "ok and dup are covered");
        // Eight class counts over five applicants (4, 5 and 6 are in two each): each counted once.
        assert_eq!(insurer.fell_through, 5, "every applicant but `ok`");
        let class = |c: &str| {
            (
                insurer.classes[c],
                insurer.examples.get(c).cloned().unwrap_or_default(),
            )
        };
        assert_eq!(class("never_redirected"), (1, vec![6]));
        assert_eq!(class("broken_redirect"), (1, vec![4]));
        assert_eq!(class("paid_no_834"), (1, vec![5]));
        assert_eq!(class("834_no_payment"), (1, vec![4]));
        assert_eq!(class("unknown_to_insurer"), (1, vec![6]));
        assert_eq!(class("duplicate_834"), (1, vec![2]));
        assert_eq!(class("834_without_premium"), (1, vec![3]));
        assert_eq!(class("wrong_insurer_834"), (1, vec![5]));
    }

    #[test]
    fn a_healthy_run_has_no_cracks() {
        let mut records = InsurerRecords::default();
        records.add_inbox("11512", &interchange("a", true));
        records.add_inbox("11512", &interchange("b", true));
        let cracks = reconcile(
            &[
                applicant(1, "a", true, true, true),
                applicant(2, "b", true, true, true),
            ],
            Some(&records),
        );
        assert!(CLASSES.iter().all(|c| cracks.total(c) == 0));
        assert_eq!(cracks.insurers["11512"].effectuated, 2);
        assert_eq!(cracks.fell_through(), 0);
    }

    /// Paid applicants 1..=n with ids written as `id(k)`, their 834s as `edi(k)`.
    fn paid_with_834s(
        n: u64,
        id: impl Fn(u64) -> String,
        edi: impl Fn(u64) -> String,
        matching: Matching,
    ) -> (Vec<Enrollment>, InsurerRecords) {
        let mut records = InsurerRecords::new(matching);
        let applicants = (1..=n)
            .map(|k| {
                records.add_inbox("11512", &interchange(&edi(k), true));
                applicant(k, &id(k), true, true, true)
            })
            .collect();
        (applicants, records)
    }

    /// What `n` paid applicants with 834s are said to be, their ids written as `id` makes them and
    /// the 834s' as `edi` does, matched as surge matches by default: a mismatch there must be.
    fn mismatch_said(n: u64, id: impl Fn(u64) -> String, edi: impl Fn(u64) -> String) -> String {
        let (applicants, records) = paid_with_834s(n, id, edi, Matching::default());
        reconcile(&applicants, Some(&records))
            .mismatch()
            .unwrap()
            .to_string()
    }

    #[test]
    fn ids_of_another_form_are_said_to_match_under_half_with_an_example_of_each_side() {
        let padded = |k: u64| format!("{k:013}");
        let (applicants, records) =
            paid_with_834s(4, padded, |k| k.to_string(), Matching::default());
        let cracks = reconcile(&applicants, Some(&records));
        let matching = cracks.matching.as_ref().unwrap();
        assert_eq!(
            (matching.matched, matching.paid, matching.ids_834),
            (0, 4, 4)
        );
        assert_eq!(matching.examples.edi.as_deref(), Some("1"));
        assert_eq!(matching.examples.visits.as_deref(), Some("0000000000001"));
        let problem = cracks.mismatch().unwrap();
        assert!(
            problem.starts_with("0 of 4 matched: the 834s say 1, the visits 0000000000001"),
            "{problem}"
        );
        assert!(
            problem.contains(
                "ignore_leading_zeros = true (or --ignore-leading-zeros), 4 of 4 would match"
            ),
            "{problem}"
        );

        // Read as suggested, they all match and nothing is said.
        let lenient = Matching {
            ignore_leading_zeros: true,
            ..Matching::default()
        };
        let (applicants, records) = paid_with_834s(4, padded, |k| k.to_string(), lenient);
        let cracks = reconcile(&applicants, Some(&records));
        assert_eq!(cracks.matching.as_ref().unwrap().matched, 4);
        assert_eq!(cracks.mismatch(), None);
        assert_eq!(cracks.insurers["11512"].effectuated, 4);
    }

    #[test]
    fn half_matched_is_enough_and_case_is_suggested_when_it_is_the_difference() {
        // Two of four 834s missing: real cracks, not a form of id.
        let (mut applicants, records) = paid_with_834s(
            2,
            |k| format!("PT-{k}"),
            |k| format!("PT-{k}"),
            Matching::default(),
        );
        applicants.push(applicant(3, "PT-3", true, true, true));
        applicants.push(applicant(4, "PT-4", true, true, true));
        let cracks = reconcile(&applicants, Some(&records));
        assert_eq!(cracks.mismatch(), None, "2 of 4 is half");
        assert_eq!(cracks.total("paid_no_834"), 2);

        let problem = mismatch_said(3, |k| format!("PT-{k}"), |k| format!("pt-{k}"));
        assert!(
            problem.contains("the 834s say pt-1, the visits PT-1"),
            "{problem}"
        );
        assert!(
            problem.contains("ignore_case = true (or --ignore-case)"),
            "{problem}"
        );
        let case = Matching {
            ignore_case: true,
            ..Matching::default()
        };
        let (applicants, records) =
            paid_with_834s(3, |k| format!("PT-{k}"), |k| format!("pt-{k}"), case);
        assert_eq!(reconcile(&applicants, Some(&records)).mismatch(), None);
    }

    #[test]
    fn an_id_pattern_takes_the_id_out_of_both_sides() {
        let pattern = Matching {
            id_pattern: Some(regex::Regex::new(r"PT-(\d+)").unwrap()),
            ..Matching::default()
        };
        let (applicants, records) =
            paid_with_834s(3, |k| format!("{k}"), |k| format!("PT-{k}/2026"), pattern);
        let cracks = reconcile(&applicants, Some(&records));
        assert_eq!(cracks.mismatch(), None);
        assert_eq!(cracks.insurers["11512"].effectuated, 3);
        // Without it nothing matches, and no key of surge's would fix it: the pattern is advised.
        let problem = mismatch_said(3, |k| format!("{k}"), |k| format!("PT-{k}/2026"));
        assert!(
            problem.contains("the 834s say PT-1/2026, the visits 1"),
            "{problem}"
        );
        assert!(problem.contains("id_pattern"), "{problem}");
    }

    #[test]
    fn an_exchange_without_premium_loops_covers_who_paid_and_has_an_834() {
        let mut records = InsurerRecords::default();
        records.add_inbox("11512", &interchange("a", false));
        records.add_inbox("11512", &interchange("b", false));
        let applicants = [
            applicant(1, "a", true, true, true),
            applicant(2, "b", true, true, false),
        ];
        let cracks = reconcile(&applicants, Some(&records));
        assert_eq!(cracks.total("834_without_premium"), 2);
        assert_eq!(cracks.insurers["11512"].effectuated, 0);

        let mut records = InsurerRecords::new(Matching {
            premiums: false,
            ..Matching::default()
        });
        records.add_inbox("11512", &interchange("a", false));
        records.add_inbox("11512", &interchange("b", false));
        let cracks = reconcile(&applicants, Some(&records));
        assert_eq!(cracks.total("834_without_premium"), 0);
        assert_eq!(cracks.insurers["11512"].effectuated, 1, "a paid, b did not");
        assert_eq!(cracks.total("834_no_payment"), 1);
    }

    #[test]
    fn insurer_words_surge_does_not_know_are_counted_and_located_never_a_silent_zero() {
        let answered = |visit: u64, word: &str| Enrollment {
            confirmed: word.into(),
            ..applicant(visit, &visit.to_string(), true, true, true)
        };
        let applicants = [
            answered(1, "ACTIVE"),
            answered(2, "ACTIVE"),
            answered(3, "effectuated"),
            answered(4, "awaiting_834"),
            answered(5, ""),
        ];
        let mut cracks = reconcile(&applicants, None);
        assert_eq!(
            cracks.unmapped_status,
            [("ACTIVE".to_string(), 2)].into_iter().collect()
        );
        assert_eq!(cracks.insurers["11512"].effectuated, 1);
        locate_unmapped(&mut cracks, Some("journeys/mine.toml:88".into()));
        assert_eq!(cracks.warnings.len(), 1);
        let warning = &cracks.warnings[0];
        assert!(
            warning.starts_with(
                "journeys/mine.toml:88: [enrollment] confirmed wrote `ACTIVE` for 2 applicants"
            ),
            "{warning}"
        );
        assert!(
            warning.contains("status_map = { ACTIVE = \"effectuated\" }"),
            "{warning}"
        );
        // Located again (surge cracks), it is not said twice.
        locate_unmapped(&mut cracks, Some("journeys/mine.toml:88".into()));
        assert_eq!(cracks.warnings.len(), 1);
    }

    #[test]
    fn a_source_is_the_target_a_url_or_files_relative_to_the_scenario() {
        let scenario = Path::new("scenarios/mine.toml");
        assert_eq!(
            EdiSource::of(None, scenario, "http://x/"),
            EdiSource::Target("http://x".into())
        );
        assert_eq!(
            EdiSource::of(Some("https://hub.example/"), scenario, "http://x"),
            EdiSource::Exchange("https://hub.example".into())
        );
        assert_eq!(
            EdiSource::of(Some("834/"), scenario, "http://x"),
            EdiSource::Files(PathBuf::from("scenarios/834/"))
        );
    }

    #[tokio::test]
    async fn records_that_cannot_be_fetched_are_an_error_with_its_cause() {
        let dir = std::env::temp_dir().join(format!("surge-cracks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = enrollments::EnrollmentLog::create(&dir.join(enrollments::FILE_NAME)).unwrap();
        log.record(&applicant(1, "a", true, true, true)).unwrap();
        log.flush().unwrap();
        // Port 9 (discard) on loopback: nothing listens, the connection is refused.
        let how = Reconciling {
            target: "http://127.0.0.1:9",
            access: &Access::default(),
            spec: &CracksSpec::default(),
            scenario_path: Path::new("scenarios/s.toml"),
            confirmed_at: None,
        };
        let cracks = report(&dir, &how).await.unwrap();
        assert!(!cracks.insurer_records);
        let error = cracks.records_error.expect("the failed fetch is reported");
        assert!(error.contains("127.0.0.1:9/api/v1/issuers"), "{error}");
        assert_eq!(
            cracks.insurers["11512"].applications, 1,
            "the harness's own counts remain"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
