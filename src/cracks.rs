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
//! - and the 834 defects seen in the inboxes: `duplicate_834`, `834_without_premium`,
//!   `wrong_insurer_834` (their 834 went to another insurer).

mod x12;
use crate::journey_file::program::Access;
use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use crate::rundir::enrollments::{self, Enrollment};
use crate::rundir::summary::{Cracks, InsurerCracks, CRACK_CLASSES as CLASSES};
use crate::rundir::RunDirError;

/// The insurers' records could not be fetched from a target that offers them.
#[derive(Debug, thiserror::Error)]
#[error("cannot fetch the insurers' records from {url}: {cause}")]
pub struct RecordsError {
    pub url: String,
    pub cause: String,
}

/// Visit ids kept as examples per class.
const EXAMPLES: usize = 10;

/// How an 834 names the enrollment an applicant's Payment Transaction ID stands for: which `REF`
/// qualifier (`1L` the exchange's policy id, `17`, `0F`…), and whether leading zeros count
/// (ideacrew pads the id to 13 digits).
#[derive(Debug, Clone)]
pub struct Matching {
    pub reference: String,
    pub ignore_leading_zeros: bool,
}

impl Default for Matching {
    fn default() -> Self {
        Self {
            reference: "1L".into(),
            ignore_leading_zeros: false,
        }
    }
}

impl Matching {
    fn key<'a>(&self, id: &'a str) -> &'a str {
        match self.ignore_leading_zeros {
            true => match id.trim_start_matches('0') {
                "" => "0",
                trimmed => trimmed,
            },
            false => id,
        }
    }
}

/// What the insurers hold: for each Payment Transaction ID, the 834s found, by inbox.
#[derive(Debug, Default)]
pub struct InsurerRecords {
    matching: Matching,
    /// ptid → (insurer whose inbox held it, whether it carried premium amounts), one per 834.
    by_ptid: HashMap<String, Vec<(String, bool)>>,
}

impl InsurerRecords {
    pub fn new(matching: Matching) -> Self {
        Self {
            matching,
            by_ptid: HashMap::new(),
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
        let interchanges = x12::interchanges(x12);
        for interchange in &interchanges {
            let insurer = interchange.receiver();
            self.add(&insurer, interchange);
        }
        interchanges.len()
    }

    fn add(&mut self, insurer: &str, interchange: &x12::Interchange<'_>) {
        for (id, has_premium) in interchange.enrollments(&self.matching.reference) {
            self.by_ptid
                .entry(self.matching.key(&id).to_string())
                .or_default()
                .push((insurer.to_string(), has_premium));
        }
    }

    fn held(&self, ptid: &str) -> &[(String, bool)] {
        self.by_ptid
            .get(self.matching.key(ptid))
            .map_or(&[][..], Vec::as_slice)
    }
}

/// Read every 834 file under `path` (a file, or a directory's files, not recursing).
pub fn read_files(path: &Path, matching: Matching) -> Result<InsurerRecords, RecordsError> {
    let failed = |p: &Path, cause: &dyn std::fmt::Display| RecordsError {
        url: p.display().to_string(),
        cause: cause.to_string(),
    };
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

/// Reconcile the applicants of `enrollments.csv` with the insurers' records (`None` when the target
/// does not offer them).
pub fn reconcile(applicants: &[Enrollment], records: Option<&InsurerRecords>) -> Cracks {
    let mut cracks = Cracks {
        insurer_records: records.is_some(),
        ..Cracks::default()
    };
    // By visit id, so the examples are the same for the same seed whatever order visits finished in.
    let mut ordered: Vec<&Enrollment> = applicants.iter().collect();
    ordered.sort_by_key(|a| a.visit);
    for applicant in ordered {
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
                let own: Vec<&(String, bool)> = held
                    .iter()
                    .filter(|(i, _)| *i == applicant.issuer_id)
                    .collect();
                let has_834 = !own.is_empty();
                let with_premium = own.iter().any(|(_, premium)| *premium);
                match (applicant.paid, has_834) {
                    (true, false) => classes.push("paid_no_834"),
                    (false, true) => classes.push("834_no_payment"),
                    (false, false) => classes.push("unknown_to_insurer"),
                    (true, true) => {}
                }
                if own.len() > 1 {
                    classes.push("duplicate_834");
                }
                if has_834 && !with_premium {
                    classes.push("834_without_premium");
                }
                if held.iter().any(|(i, _)| *i != applicant.issuer_id) {
                    classes.push("wrong_insurer_834");
                }
                insurer.effectuated += u64::from(applicant.paid && with_premium);
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
    cracks
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
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if (body.len() + chunk.len()) as u64 > MAX_INBOX {
            return Err(Unreadable::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8(body)?)
}

/// The whole report for a finished run: its applicants, reconciled with `target`'s insurers. When
/// the target offers the insurers' records but they cannot be fetched, the report says why
/// (`records_error`) and counts only what the harness saw itself.
pub async fn report(run_dir: &Path, target: &str, access: &Access) -> Result<Cracks, RunDirError> {
    let applicants = enrollments::read(&run_dir.join(enrollments::FILE_NAME))?;
    if applicants.is_empty() {
        return Ok(reconcile(&applicants, None));
    }
    Ok(
        match fetch_records(target, access, &Matching::default()).await {
            Ok(records) => reconcile(&applicants, records.as_ref()),
            Err(e) => Cracks {
                records_error: Some(e.to_string()),
                ..reconcile(&applicants, None)
            },
        },
    )
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
                .iter()
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

    #[tokio::test]
    async fn records_that_cannot_be_fetched_are_an_error_with_its_cause() {
        let dir = std::env::temp_dir().join(format!("surge-cracks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = enrollments::EnrollmentLog::create(&dir.join(enrollments::FILE_NAME)).unwrap();
        log.record(&applicant(1, "a", true, true, true)).unwrap();
        log.flush().unwrap();
        // Port 9 (discard) on loopback: nothing listens, the connection is refused.
        let cracks = report(&dir, "http://127.0.0.1:9", &Access::default())
            .await
            .unwrap();
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
