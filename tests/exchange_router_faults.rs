//! Level: the exchange's router in-process (tower `oneshot`, no socket). Its deliberate faults
//! that need no real connection: refused SAML, failing payments, defective 834s, the same faults
//! for the same seed, error windows and the waiting room. No sleeps are used to synchronise.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use surge::exchange::behaviour::{
    Behaviour, ErrorWindow, InsurerFaults, ScenarioClock, WaitingRoom,
};
use surge::exchange::faults::{defect_834, Defect834};

use crate::util::{
    assert_error, enroll, every_insurer, get, inbox, link_of, metrics, nc, nc_plans, pay, pay_for,
    pay_now_form, post, post_saml, se_count_ok, series, status_of, within, Exchange, Link, Reply,
};

#[tokio::test]
async fn saml_rejected_refuses_a_valid_response_for_its_share() {
    let ex = Exchange::in_process(
        every_insurer(
            7,
            InsurerFaults {
                saml_rejected: 0.5,
                ..Default::default()
            },
        ),
        ScenarioClock::default(),
    );
    let plan = nc_plans(&ex).await[0].0.clone();
    let n = 60;
    let mut refused = 0;
    for _ in 0..n {
        let ptid = enroll(&ex, &plan).await;
        let form = pay_now_form(&ex, &ptid).await;
        let (s, body) = post_saml(&ex, &form.action, &form.saml_response, &ptid).await;
        match s {
            StatusCode::OK => assert!(body.contains("/payments")),
            StatusCode::FORBIDDEN => {
                assert_error(
                    &serde_json::from_str(&body).unwrap(),
                    StatusCode::FORBIDDEN,
                    "2003",
                );
                // Refused again on retry: the fault belongs to the enrollment.
                assert_eq!(
                    post_saml(&ex, &form.action, &form.saml_response, &ptid)
                        .await
                        .0,
                    StatusCode::FORBIDDEN
                );
                refused += 1;
            }
            other => panic!("{other}: {body}"),
        }
    }
    assert!(within(refused, n, 0.5, 3.5), "{refused} refused of {n}");
    let m = metrics(&ex).await;
    assert_eq!(
        series(&m, "exchange_faults_total{kind=\"saml_rejected\"}"),
        (2 * refused) as f64
    );
}

#[tokio::test]
async fn payment_fails_only_at_the_faulty_insurer_and_records_nothing() {
    let plans = nc_plans(&Exchange::perfect()).await;
    let (bad_plan, bad_issuer) = plans[0].clone();
    let (good_plan, good_issuer) = plans
        .iter()
        .find(|p| p.1 != bad_issuer)
        .expect("two insurers in Wake County")
        .clone();

    let behaviour = Behaviour {
        insurers: BTreeMap::from([(
            bad_issuer.clone(),
            InsurerFaults {
                payment_fails: 1.0,
                ..Default::default()
            },
        )]),
        ..Default::default()
    };
    let ex = Exchange::in_process(behaviour, ScenarioClock::default());

    let ptid = enroll(&ex, &bad_plan).await;
    let form = pay_now_form(&ex, &ptid).await;
    let (s, page) = post_saml(&ex, &form.action, &form.saml_response, &ptid).await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = pay(&ex, &page).await;
    assert_error(&b, StatusCode::INTERNAL_SERVER_ERROR, "1000");
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    let (s, st) = get(&ex, &format!("/issuers/{bad_issuer}/enrollments/{ptid}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(st["enrollment"]["paid"], false, "{st}");
    assert_eq!(st["enrollment"]["status"], "awaiting_payment");

    let ptid = enroll(&ex, &good_plan).await;
    pay_for(&ex, &ptid).await;
    let (_, st) = get(&ex, &format!("/issuers/{good_issuer}/enrollments/{ptid}")).await;
    assert_eq!(st["enrollment"]["status"], "effectuated", "{st}");
}

#[tokio::test]
async fn defective_834s_show_in_the_inboxes_and_the_status() {
    let seed = 99;
    let faults = InsurerFaults {
        missing_834: 0.2,
        duplicate_834: 0.2,
        no_premium_834: 0.2,
        wrong_insurer_834: 0.2,
        ..Default::default()
    };
    let ex = Exchange::in_process(
        every_insurer(seed, faults.clone()),
        ScenarioClock::default(),
    );
    let (plan, issuer) = nc_plans(&ex).await[0].clone();
    let catalog = &ex.state().catalog;
    let ii = catalog.issuers.iter().position(|i| i.id == issuer).unwrap();
    let other = catalog.issuers[ex.state().misrouted_to(ii)].id;
    assert_ne!(other, issuer);

    let n = 50;
    let mut ptids = Vec::new();
    for _ in 0..n {
        ptids.push(enroll(&ex, &plan).await);
    }
    let own = inbox(&ex, &issuer).await;
    let misrouted = inbox(&ex, other).await;
    let mut seen = BTreeMap::new();
    for ptid in &ptids {
        let mine: Vec<&(String, String)> = own.iter().filter(|x| &x.0 == ptid).collect();
        let theirs = misrouted.iter().filter(|x| &x.0 == ptid).count();
        let observed = match (mine.len(), theirs) {
            (0, 0) => Defect834::Missing,
            (2, 0) => {
                // Two identical interchanges but for their control numbers.
                let isa13 = |x: &str| {
                    x.lines()
                        .next()
                        .unwrap()
                        .split('*')
                        .nth(13)
                        .unwrap()
                        .to_string()
                };
                assert_ne!(isa13(&mine[0].1), isa13(&mine[1].1));
                let body = |x: &str| {
                    x.lines()
                        .filter(|l| {
                            !l.starts_with("ISA")
                                && !l.starts_with("GS")
                                && !l.starts_with("BGN")
                                && !l.starts_with("GE")
                                && !l.starts_with("IEA")
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                };
                assert_eq!(body(&mine[0].1), body(&mine[1].1));
                Defect834::Duplicate
            }
            (1, 0) if !mine[0].1.contains("N1*75*PRE AMT TOT") => Defect834::NoPremium,
            (1, 0) => Defect834::None,
            (0, 1) => Defect834::WrongInsurer,
            other => panic!("{ptid}: {other:?}"),
        };
        for x in &mine {
            assert!(se_count_ok(&x.1), "{}", x.1);
        }
        // Exactly the defect the deterministic draw gives this enrollment.
        let number: u64 = ptid.parse().unwrap();
        assert_eq!(observed, defect_834(seed, Some(&faults), number), "{ptid}");
        *seen.entry(format!("{observed:?}")).or_insert(0) += 1;
    }
    assert_eq!(seen.len(), 5, "every class shows up: {seen:?}");
    let m = metrics(&ex).await;
    for (kind, defect) in [
        ("missing_834", "Missing"),
        ("duplicate_834", "Duplicate"),
        ("no_premium_834", "NoPremium"),
        ("wrong_insurer_834", "WrongInsurer"),
    ] {
        assert_eq!(
            series(&m, &format!("exchange_faults_total{{kind=\"{kind}\"}}")),
            f64::from(seen[defect])
        );
    }

    // Before payment: an insurer with neither the 834 nor the payment has never heard of it.
    let status = |issuer: String, ptid: String| {
        let ex = ex.clone();
        async move { get(&ex, &format!("/issuers/{issuer}/enrollments/{ptid}")).await }
    };
    let defect_of = |ptid: &str| defect_834(seed, Some(&faults), ptid.parse().unwrap());
    for ptid in &ptids {
        let (s, b) = status(issuer.clone(), ptid.clone()).await;
        match defect_of(ptid) {
            Defect834::Missing | Defect834::WrongInsurer => {
                assert_error(&b, StatusCode::NOT_FOUND, "2001");
                assert_eq!(s, StatusCode::NOT_FOUND);
            }
            _ => {
                assert_eq!(s, StatusCode::OK);
                assert_eq!(b["enrollment"]["status"], "awaiting_payment", "{b}");
                assert_eq!(b["enrollment"]["enrollment_834_received"], true);
            }
        }
    }

    // After payment.
    for ptid in &ptids {
        pay_for(&ex, ptid).await;
    }
    for ptid in &ptids {
        let (s, b) = status(issuer.clone(), ptid.clone()).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let e = &b["enrollment"];
        assert_eq!(e["paid"], true);
        match defect_of(ptid) {
            Defect834::None | Defect834::Duplicate => {
                assert_eq!(e["status"], "effectuated", "{b}");
                assert_eq!(e["effectuated"], true);
            }
            Defect834::Missing | Defect834::WrongInsurer => {
                assert_eq!(e["status"], "awaiting_834", "{b}");
                assert_eq!(e["effectuated"], false);
                assert_eq!(e["enrollment_834_received"], false);
            }
            Defect834::NoPremium => {
                assert_eq!(e["status"], "awaiting_834", "{b}");
                assert_eq!(e["effectuated"], false);
                assert_eq!(e["enrollment_834_received"], true);
                assert!(e["reason"].as_str().unwrap().contains("premium"), "{b}");
            }
        }
        if defect_of(ptid) == Defect834::WrongInsurer {
            // The insurer that got it holds the 834 and nothing else.
            let (s, b) = status(other.to_string(), ptid.clone()).await;
            assert_eq!(s, StatusCode::OK, "{b}");
            assert_eq!(b["enrollment"]["enrollment_834_received"], true);
            assert_eq!(b["enrollment"]["paid"], false);
            assert_eq!(b["enrollment"]["effectuated"], false);
        }
    }
}

/// What an exchange does to enrollments 1..=n: (link, 834 count in the insurer's inbox).
async fn fingerprint(seed: u64, n: usize) -> Vec<(Link, usize)> {
    let faults = InsurerFaults {
        broken_link: 0.3,
        dead_link: 0.2,
        missing_834: 0.2,
        duplicate_834: 0.2,
        ..Default::default()
    };
    let ex = Exchange::in_process(every_insurer(seed, faults), ScenarioClock::default());
    let (plan, issuer) = nc_plans(&ex).await[0].clone();
    let mut ptids = Vec::new();
    for _ in 0..n {
        ptids.push(enroll(&ex, &plan).await);
    }
    let own = inbox(&ex, &issuer).await;
    let mut out = Vec::new();
    for ptid in &ptids {
        let link = link_of(ex.base(), &pay_now_form(&ex, ptid).await.action);
        out.push((link, own.iter().filter(|x| &x.0 == ptid).count()));
    }
    out
}

#[tokio::test]
async fn the_same_seed_faults_the_same_enrollments() {
    let a = fingerprint(1234, 60).await;
    let b = fingerprint(1234, 60).await;
    let other = fingerprint(4321, 60).await;
    assert_eq!(a, b);
    assert_ne!(a, other);
    assert!(a.iter().any(|x| x.0 != Link::Working) && a.iter().any(|x| x.1 != 1));
}

fn window(at: &str, paths: &[&str], share: f64, status: u16, code: &str) -> ErrorWindow {
    ErrorWindow {
        at: at.into(),
        lasting: Duration::from_secs(3600),
        paths: paths.iter().map(|p| p.to_string()).collect(),
        share,
        status,
        code: code.into(),
        delay: None,
    }
}

#[tokio::test]
async fn error_windows_follow_the_scenario_clock() {
    let clock = ScenarioClock {
        clock_start: 8.0 * 3600.0,
        ..Default::default()
    };
    clock.origin.set(Instant::now()).unwrap();
    let mut delayed = window("07:30", &["/api/v1/households"], 1.0, 500, "1007");
    delayed.delay = Some(Duration::from_millis(300));
    let behaviour = Behaviour {
        errors: vec![
            // Active now (08:00 is within 07:59 + 1 h).
            window("07:59", &["/api/v1/plans/"], 1.0, 500, "1007"),
            window("08:00", &["/api/v1/counties"], 0.5, 503, "1012"),
            // Not yet (09:00).
            window("09:00", &["/api/v1/issuers"], 1.0, 503, "1012"),
            // Over (06:00-07:00).
            window("06:00", &["/issuers/"], 1.0, 500, "1000"),
            delayed,
        ],
        ..Default::default()
    };
    let ex = Exchange::in_process(behaviour, clock);

    let (s, b) = get(&ex, "/api/v1/plans/11512NC0100031").await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    assert_error(&b, s, "1007");
    assert_eq!(b["message"], "request timed-out, try again");

    let n = 200;
    let mut failed = 0;
    for _ in 0..n {
        let (s, b) = get(&ex, "/api/v1/counties/by/zip/27601").await;
        if s == StatusCode::SERVICE_UNAVAILABLE {
            assert_error(&b, s, "1012");
            assert_eq!(b["message"], "coverage data temporarily unavailable");
            failed += 1;
        } else {
            assert_eq!(s, StatusCode::OK, "{b}");
        }
    }
    assert!(within(failed, n, 0.5, 3.5), "{failed} of {n}");

    let (s, _) = get(&ex, "/api/v1/issuers?state=NC").await;
    assert_eq!(s, StatusCode::OK, "not yet");
    let s = status_of(&ex, "/issuers/11512/834").await;
    assert_eq!(s, StatusCode::OK, "over");

    let t = Instant::now();
    let (s, b) = post(
        &ex,
        "/api/v1/households/eligibility/estimates",
        &json!({"household": {"income": 32000, "people": [{"age": 34}]}, "place": nc(), "year": 2014}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );

    assert_eq!(ex.get("/healthz").await.status, StatusCode::OK);
    let m = metrics(&ex).await;
    assert_eq!(
        series(&m, "exchange_faults_total{kind=\"error_window\"}"),
        (1 + failed) as f64
    );
    assert_eq!(
        series(&m, "exchange_faults_total{kind=\"error_window_delay\"}"),
        1.0
    );
}

fn session_cookie(r: &Reply) -> Option<String> {
    let v = r.headers.get("set-cookie")?.to_str().ok()?;
    assert!(v.contains("Path=/"), "{v}");
    Some(v.split(';').next()?.to_string())
}

#[tokio::test]
async fn the_waiting_room_holds_new_visitors_when_full() {
    let behaviour = Behaviour {
        waiting_room: Some(WaitingRoom {
            at: 1,
            session_idle: Duration::from_secs(300),
            retry_after: Duration::from_secs(120),
        }),
        ..Default::default()
    };
    let clock = ScenarioClock {
        time_scale: 60.0,
        ..Default::default()
    };
    let ex = Exchange::in_process(behaviour, clock);
    let url = "/api/v1/issuers?state=NC";

    let first = ex.get(url).await;
    assert_eq!(first.status, StatusCode::OK);
    let cookie = session_cookie(&first).expect("a session cookie");
    assert!(cookie.starts_with("exchange_session="), "{cookie}");

    let second = ex.get(url).await;
    assert_eq!(second.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(second.headers["x-waiting-room"], "1");
    // Retry-After speaks real-world (scenario) seconds, as an exchange would; a visitor replaying
    // the morning at 60x waits them 60 times faster.
    assert_eq!(second.headers["retry-after"], "120");
    assert!(session_cookie(&second).is_none());
    let page = second.text();
    assert!(page.contains("HealthCare.gov has a lot of visitors right now"));

    let again = ex
        .get_with(url, &[("cookie", &format!("other=1; {cookie}"))])
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert!(session_cookie(&again).is_none());

    // An unknown token is a new visitor.
    let forged = ex
        .get_with(url, &[("cookie", "exchange_session=ffffffffffffffff")])
        .await;
    assert_eq!(forged.status, StatusCode::SERVICE_UNAVAILABLE);

    // Operations are never held.
    let m = metrics(&ex).await;
    assert_eq!(series(&m, "exchange_waiting_room_holding_pages_total"), 2.0);
    assert_eq!(series(&m, "exchange_waiting_room_active_sessions"), 1.0);
}

#[tokio::test]
async fn idle_sessions_free_their_place() {
    // 1 ms of scenario idleness is a few microseconds of wall time at this scale.
    let behaviour = Behaviour {
        waiting_room: Some(WaitingRoom {
            at: 1,
            session_idle: Duration::from_millis(1),
            retry_after: Duration::from_secs(1),
        }),
        ..Default::default()
    };
    let clock = ScenarioClock {
        time_scale: 1000.0,
        ..Default::default()
    };
    let ex = Exchange::in_process(behaviour, clock);
    let url = "/api/v1/issuers?state=NC";
    let first = ex.get(url).await;
    assert_eq!(first.status, StatusCode::OK);
    let cookie = session_cookie(&first).unwrap();
    // The first session is idle by the time the next visitor's request arrives.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = ex.get(url).await;
        if r.status == StatusCode::OK {
            assert!(session_cookie(&r).is_some());
            break;
        }
        assert!(Instant::now() < deadline, "the idle session never expired");
    }
    // The expired token no longer admits.
    let r = ex.get_with(url, &[("cookie", cookie.as_str())]).await;
    assert!(r.status == StatusCode::SERVICE_UNAVAILABLE || session_cookie(&r).is_some());
}
