//! Level: the exchange's router in-process (tower `oneshot`, no socket). The Marketplace API, the
//! insurers' SAML checks and 834 inboxes (validated by pyx12, the shaped exchange's too), errors
//! and metrics.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use std::path::Path;

use reqwest::StatusCode;
use serde_json::{json, Value};
use surge::exchange::behaviour::{Behaviour, ScenarioClock};
use surge::exchange::edi834::{Ids, Premiums, Style};
use surge::exchange::issuers::payment_token;
use surge::exchange::shape::Shape;
use surge::exchange::{self, saml, ExchangeConfig};

use crate::util::{
    apply, assert_error, assert_pyx12_accepts, category_value, element, get, household, html_attr,
    nc, pay_now_form, place, post, segments, select, x12valid_here, Exchange,
};

#[tokio::test]
async fn inbox_holds_one_valid_834_per_selection() {
    let ex = Exchange::perfect();
    let oh = place("39049", "OH", "43215");
    let (_, res) = post(
        &ex,
        "/api/v1/plans/search",
        &json!({"place": oh, "market": "Individual", "filter": {"metal_levels": ["Silver"]}}),
    )
    .await;
    let plan_id = res["plans"][0]["id"].as_str().unwrap().to_string();
    let issuer_id = res["plans"][0]["issuer"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    let households = [
        household(30000.0, &[34]),
        household(52000.0, &[45, 43, 12, 9]),
        household(90000.0, &[61]),
    ];
    let mut ptids = Vec::new();
    for h in &households {
        let app = apply(&ex, h.clone(), oh.clone()).await;
        ptids.push(
            select(&ex, &app, &plan_id).await["payment_transaction_id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }

    let r = ex.get(&format!("/issuers/{issuer_id}/834")).await;
    assert_eq!(r.status, StatusCode::OK);
    let text = r.text();
    let interchanges: Vec<&str> = text.split("ISA*").filter(|s| !s.is_empty()).collect();
    assert_eq!(interchanges.len(), households.len());
    for (i, body) in interchanges.iter().enumerate() {
        let full = format!("ISA*{body}");
        let segs = segments(&full);
        assert_eq!(segs[0].len() + 1, 106, "ISA is fixed width: {}", segs[0]);
        assert_eq!(full.lines().next().unwrap().len(), 106);
        let isa13 = element(segs[0], 13);
        assert_eq!(isa13.len(), 9);
        let gs = segs[1];
        assert!(gs.starts_with("GS*BE*"));
        let st = segs.iter().position(|s| s.starts_with("ST*")).unwrap();
        let se = segs.iter().position(|s| s.starts_with("SE*")).unwrap();
        assert_eq!(
            element(segs[se], 1).parse::<usize>().unwrap(),
            se - st + 1,
            "SE01 counts ST..SE"
        );
        assert_eq!(element(segs[se], 2), element(segs[st], 2), "SE02 == ST02");
        let ge = segs[se + 1];
        let iea = segs[se + 2];
        let st_count = segs.iter().filter(|s| s.starts_with("ST*")).count();
        let gs_count = segs.iter().filter(|s| s.starts_with("GS*")).count();
        assert_eq!(element(ge, 1).parse::<usize>().unwrap(), st_count, "GE01");
        assert_eq!(element(ge, 2), element(gs, 6), "GE02 == GS06");
        assert_eq!(element(iea, 1).parse::<usize>().unwrap(), gs_count, "IEA01");
        assert_eq!(element(iea, 2), isa13, "IEA02 == ISA13");
        assert_eq!(segs.len(), se + 3, "nothing after IEA");

        let tot = category_value(&segs, "PRE AMT TOT");
        let aptc = category_value(&segs, "APTC AMT");
        let res = category_value(&segs, "TOT RES AMT");
        assert!(
            (tot - aptc - res).abs() < 0.005,
            "PRE AMT TOT = APTC AMT + TOT RES AMT"
        );
        assert!(
            segs.contains(&format!("REF*1L*{}", ptids[i]).as_str()),
            "REF*1L is the Payment Transaction ID"
        );
        let members = segs.iter().filter(|s| s.starts_with("INS*")).count();
        let people = households[i]["people"].as_array().unwrap().len();
        assert_eq!(members, people);
        assert!(segs
            .iter()
            .any(|s| s.starts_with(&format!("REF*CE*{plan_id}-"))));
    }

    // `since` returns only newer interchanges.
    let later = ex
        .get(&format!("/issuers/{issuer_id}/834?since=2"))
        .await
        .text();
    assert_eq!(later.matches("ISA*").count(), 1);
    assert!(later.contains(&format!("REF*1L*{}", ptids[2])));
}

/// Enroll someone and return (the issuer's pay-now URL, SAMLResponse, ptid, issuer id).
async fn enrolled(ex: &Exchange) -> (String, String, String, String) {
    let fl = place("12057", "FL", "33602");
    let (_, res) = post(
        ex,
        "/api/v1/plans/search",
        &json!({"place": fl, "market": "Individual"}),
    )
    .await;
    let plan_id = res["plans"][3]["id"].as_str().unwrap().to_string();
    let app = apply(ex, household(28000.0, &[29]), fl).await;
    let e = select(ex, &app, &plan_id).await;
    let ptid = e["payment_transaction_id"].as_str().unwrap().to_string();
    let form = pay_now_form(ex, &ptid).await;
    (
        form.action,
        form.saml_response,
        ptid,
        e["issuer_id"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn insurer_refuses_tampered_and_expired_saml() {
    let ex = Exchange::perfect();
    let (action, saml_response, ptid, issuer_id) = enrolled(&ex).await;
    let post_saml = |v: String| {
        let ex = ex.clone();
        let action = action.clone();
        async move {
            let r = ex.post_form(&action, &[("SAMLResponse", v)]).await;
            (r.status, r.text())
        }
    };

    // Tampered: lower the amount owed inside the decoded XML.
    let xml = String::from_utf8(B64.decode(&saml_response).unwrap()).unwrap();
    let owed_at = xml.find("Name=\"Total Amount Owed\"").unwrap();
    let v_start = owed_at
        + xml[owed_at..].find("<saml:AttributeValue>").unwrap()
        + "<saml:AttributeValue>".len();
    let v_end = v_start + xml[v_start..].find('<').unwrap();
    let tampered = format!("{}0.01{}", &xml[..v_start], &xml[v_end..]);
    assert_ne!(tampered, xml);
    let (s, body) = post_saml(B64.encode(&tampered)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_error(&serde_json::from_str(&body).unwrap(), s, "2003");

    // Expired: built by the exchange's own saml module an hour ago.
    let attrs = saml::PayNow {
        payment_transaction_id: ptid.clone(),
        total_amount_owed: "1.00".into(),
        ..Default::default()
    };
    let key = ExchangeConfig::default().saml_key;
    let old = chrono::Utc::now() - chrono::Duration::hours(1);
    let expired = saml::encode(&saml::build_response(
        &attrs, &issuer_id, &action, &key, old,
    ));
    let (s, body) = post_saml(expired).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(body.contains("expired"), "{body}");

    // Wrong audience: a Response for another insurer posted here.
    let elsewhere = saml::encode(&saml::build_response(
        &attrs,
        "99999",
        &action,
        &key,
        chrono::Utc::now(),
    ));
    let (s, _) = post_saml(elsewhere).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Missing or garbage: 400.
    let r = ex.post_form(&action, &[("RelayState", "x")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let (s, _) = post_saml("not base64 at all!".into()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Untampered: accepted.
    let (s, body) = post_saml(saml_response).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert!(body.contains("name=\"payment_token\""));
}

#[tokio::test]
async fn bad_input_gets_marketplace_errors() {
    let ex = Exchange::perfect();
    let nc = place("37183", "NC", "27601");

    // Malformed JSON.
    let r = ex
        .post_raw("/api/v1/plans/search", "application/json", "{\"place\": {")
        .await;
    let s = r.status;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&r.json(), s, "1003");
    // Missing required field.
    let (s, b) = post(
        &ex,
        "/api/v1/households/eligibility/estimates",
        &json!({"place": nc}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&b, s, "1003");
    // Unknown county in a search.
    let (s, b) = post(
        &ex,
        "/api/v1/plans/search",
        &json!({"place": place("99999", "", "")}),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&b, s, "1001");

    // Plans: unknown and ill-formed.
    let (s, b) = get(&ex, "/api/v1/plans/11512NC9999999").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&b, s, "1006");
    let (s, b) = get(&ex, "/api/v1/plans/not-a-plan").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&b, s, "1003");

    // ZIPs: unknown and not digits.
    let (s, b) = get(&ex, "/api/v1/counties/by/zip/99999").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&b, s, "1001");
    let (s, b) = get(&ex, "/api/v1/counties/by/zip/abcde").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&b, s, "1003");

    // Issuers.
    let (s, b) = get(&ex, "/api/v1/issuers/00000").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&b, s, "1004");

    // Unknown application.
    let (s, b) = post(
        &ex,
        "/api/v1/enrollment/applications/A999999999999/selection",
        &json!({"plan_id": "11512NC0100001"}),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&b, s, "2001");

    // Double selection.
    let (_, res) = post(&ex, "/api/v1/plans/search", &json!({"place": nc})).await;
    let plan_id = res["plans"][0]["id"].as_str().unwrap().to_string();
    let issuer_id = res["plans"][0]["issuer"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let app = apply(&ex, household(40000.0, &[50]), nc.clone()).await;
    let e = select(&ex, &app, &plan_id).await;
    let (s, b) = post(
        &ex,
        &format!("/api/v1/enrollment/applications/{app}/selection"),
        &json!({"plan_id": plan_id}),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_error(&b, s, "2002");

    // A plan from another state is not offered in the application's county.
    let app2 = apply(&ex, household(40000.0, &[50]), nc.clone()).await;
    let (_, tx) = post(
        &ex,
        "/api/v1/plans/search",
        &json!({"place": place("48201", "TX", "77002")}),
    )
    .await;
    let tx_plan = tx["plans"][0]["id"].as_str().unwrap();
    let (s, _) = post(
        &ex,
        &format!("/api/v1/enrollment/applications/{app2}/selection"),
        &json!({"plan_id": tx_plan}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Wrong payment amount, wrong token, unknown enrollment.
    let ptid = e["payment_transaction_id"].as_str().unwrap().to_string();
    let form = pay_now_form(&ex, &ptid).await;
    let page = ex
        .post_form(&form.action, &[("SAMLResponse", form.saml_response)])
        .await
        .text();
    let token = html_attr(&page, "name=\"payment_token\"", "value");
    let pay = format!("/issuers/{issuer_id}/payments");
    let (s, b) = post(
        &ex,
        &pay,
        &json!({"payment_transaction_id": ptid, "amount": 0.01, "payment_token": token}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_error(&b, s, "2004");
    let owed = e["total_amount_owed"].as_f64().unwrap();
    let (s, b) = post(
        &ex,
        &pay,
        &json!({"payment_transaction_id": ptid, "amount": owed, "payment_token": "nope"}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_error(&b, s, "2004");
    let (s, b) = post(
        &ex,
        &pay,
        &json!({"payment_transaction_id": "0000009999999", "amount": owed, "payment_token": token}),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&b, s, "2001");
    let (s, b) = get(
        &ex,
        &format!("/issuers/{issuer_id}/enrollments/0000009999999"),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&b, s, "2001");

    // Unknown route and wrong method are in the error shape too.
    let (s, b) = get(&ex, "/api/v1/nowhere").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(b["status"], "404");
    let (s, b) = get(&ex, "/api/v1/plans/search").await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED, "{b}");
    assert_eq!(b["status"], "405");
}

#[tokio::test]
async fn metrics_count_requests_by_route_template() {
    let ex = Exchange::perfect();
    for id in ["11512NC0100001", "11512NC9999999"] {
        let _ = ex.get(&format!("/api/v1/plans/{id}")).await;
    }
    let _ = ex.get("/api/v1/counties/by/zip/27601").await;
    assert_eq!(ex.get("/healthz").await.text(), "ok");
    let docs = ex.get("/api/v1/docs").await.text();
    assert!(docs.contains("/api/v1/plans/search"));

    let text = ex.get("/metrics").await.text();
    assert!(text.contains(r#"exchange_requests_total{route="/api/v1/plans/{plan_id}",method="GET",status="200"} 1"#), "{text}");
    assert!(text.contains(r#"exchange_requests_total{route="/api/v1/plans/{plan_id}",method="GET",status="404"} 1"#), "{text}");
    assert!(text.contains(r#"exchange_requests_total{route="/api/v1/counties/by/zip/{zipcode}",method="GET",status="200"} 1"#));
    assert!(
        text.contains(
            r#"exchange_request_duration_seconds_count{route="/api/v1/plans/{plan_id}"} 2"#
        ),
        "{text}"
    );
    assert!(text.contains(
        r#"exchange_request_duration_seconds_bucket{le="+Inf",route="/api/v1/plans/{plan_id}"} 2"#
    ));
    assert!(!text.contains("11512NC0100001"), "raw paths never appear");
}

#[tokio::test]
async fn catalog_zips_all_resolve_to_counties_with_plans() {
    let ex = Exchange::perfect();
    let zips = exchange::catalog::zips();
    assert!(zips.len() >= 12);
    for zip in zips {
        let (s, b) = get(&ex, &format!("/api/v1/counties/by/zip/{zip}")).await;
        assert_eq!(s, StatusCode::OK, "{zip}");
        let county = &b["counties"][0];
        let p = json!({"countyfips": county["fips"], "state": county["state"], "zipcode": zip});
        let (s, res) = post(&ex, "/api/v1/plans/search", &json!({"place": p})).await;
        assert_eq!(s, StatusCode::OK);
        assert!(res["total"].as_u64().unwrap() >= 10, "{zip}");
    }
}

/// Validate a real inbox with pyx12 (`scripts/validate-834.sh`). Without `x12valid` the test fails
/// (CI installs pyx12), unless `SURGE_SKIP_X12VALID=1` skips it, saying so; `SURGE_834_OUT=path`
/// also keeps the file for a look by hand.
#[tokio::test]
async fn inbox_passes_pyx12() {
    let ex = Exchange::perfect();
    let mi = place("26163", "MI", "48201");
    let (_, res) = post(&ex, "/api/v1/plans/search", &json!({"place": mi})).await;
    let plan_id = res["plans"][5]["id"].as_str().unwrap().to_string();
    let issuer_id = res["plans"][5]["issuer"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    for h in [
        household(30000.0, &[34]),
        household(60000.0, &[45, 43, 12, 9, 3]),
    ] {
        let app = apply(&ex, h, mi.clone()).await;
        select(&ex, &app, &plan_id).await;
    }
    let text = ex.get(&format!("/issuers/{issuer_id}/834")).await.text();

    let path = std::env::var("SURGE_834_OUT").unwrap_or_else(|_| {
        std::env::temp_dir()
            .join(format!("surge-834-{}.x12", std::process::id()))
            .display()
            .to_string()
    });
    // x12valid reads one interchange per file: validate the first, keep them all for inspection.
    let first = format!("ISA*{}", text.split("ISA*").nth(1).unwrap());
    std::fs::write(&path, &first).unwrap();
    std::fs::write(format!("{path}.all"), &text).unwrap();
    if !x12valid_here(&format!("; the 834 is in {path}")) {
        return;
    }
    for file in [path.clone(), format!("{path}.all")] {
        assert_pyx12_accepts(Path::new(&file));
    }
}

/// The exchange `scenarios/shaped.toml` is written for, in-process: its 834s separated by `|`,
/// with unpadded ids and no premium loops, its insurers answering in their own words.
fn shaped() -> Exchange {
    Exchange::in_process_shaped(
        Behaviour::default(),
        ScenarioClock::default(),
        Shape {
            edi834: Style {
                separator: "|".parse().unwrap(),
                ids: Ids::Unpadded,
                premiums: Premiums::None,
            },
            status_words:
                "effectuated=ACTIVE,awaiting_payment=PENDING_PAYMENT,awaiting_834=PENDING_834"
                    .parse()
                    .unwrap(),
            ..Shape::default()
        },
    )
}

/// One household's application and selection of the first plan found in Wake County:
/// (issuer id, enrollment).
async fn enrol(ex: &Exchange, ages: &[u32]) -> (String, Value) {
    let (s, search) = post(ex, "/api/v1/plans/search", &json!({"place": nc()})).await;
    assert_eq!(s, StatusCode::OK, "{search}");
    let plan = &search["plans"][0];
    let app = apply(ex, household(40000.0, ages), nc()).await;
    let enrollment = select(ex, &app, plan["id"].as_str().unwrap()).await;
    (
        plan["issuer"]["id"].as_str().unwrap().to_string(),
        enrollment,
    )
}

/// GET a JSON body, which must come with 200.
async fn get_ok(ex: &Exchange, path: &str) -> Value {
    let (s, body) = get(ex, path).await;
    assert_eq!(s, StatusCode::OK, "{path}: {body}");
    body
}

/// A shaped insurer's 834s are still valid X12 to pyx12, and it answers in its own words.
#[tokio::test]
async fn a_shaped_insurer_gets_pipes_unpadded_ids_no_premiums_and_answers_in_its_words() {
    let ex = shaped();
    let (issuer, single) = enrol(&ex, &[34]).await;
    let (_, family) = enrol(&ex, &[45, 43, 12]).await;
    let ptid = single["payment_transaction_id"].as_str().unwrap();
    assert_eq!(ptid, "0000000000001", "the API keeps the padded id");

    let inbox = ex.get(&format!("/issuers/{issuer}/834")).await.text();
    assert!(inbox.starts_with("ISA|00|"), "{inbox}");
    assert!(!inbox.contains('*'), "{inbox}");
    assert!(
        inbox.contains("REF|1L|1~") && inbox.contains("REF|1L|2~"),
        "{inbox}"
    );
    assert!(
        inbox.contains("REF|0F|100~") && inbox.contains("REF|17|201~"),
        "{inbox}"
    );
    assert!(
        !inbox.contains("LS|2700") && !inbox.contains("N1|75|"),
        "no premium loops"
    );
    assert_eq!(inbox.matches("ISA|").count(), 2);
    if x12valid_here("") {
        let dir = std::env::temp_dir().join(format!("surge-shaped-834-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (i, body) in inbox.split("ISA|").filter(|s| !s.is_empty()).enumerate() {
            let file = dir.join(format!("{i}.x12"));
            std::fs::write(&file, format!("ISA|{body}")).unwrap();
            assert_pyx12_accepts(&file);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    let status_path = format!("/issuers/{issuer}/enrollments/{ptid}");
    let before = get_ok(&ex, &status_path).await;
    assert_eq!(before["enrollment"]["status"], "PENDING_PAYMENT");
    assert_eq!(
        before["enrollment"]["reason"],
        Value::Null,
        "no premium is no defect here"
    );

    let payment = json!({
        "payment_transaction_id": ptid,
        "amount": single["total_amount_owed"],
        "payment_token": payment_token(&ExchangeConfig::default().saml_key, ptid),
    });
    let (s, paid) = post(&ex, &format!("/issuers/{issuer}/payments"), &payment).await;
    assert_eq!(s, StatusCode::OK, "{paid}");
    let after = get_ok(&ex, &status_path).await;
    assert_eq!(after["enrollment"]["status"], "ACTIVE");
    assert_eq!(
        after["enrollment"]["effectuated"], true,
        "effectuated on payment alone"
    );

    // The truth keeps surge's words, and the API's ids.
    let truth = get_ok(&ex, "/staging/enrollments").await;
    let truth = truth["enrollments"].as_array().unwrap();
    assert_eq!(truth.len(), 2);
    assert_eq!(truth[0]["payment_transaction_id"], "0000000000001");
    assert_eq!(truth[0]["insurer_status"], "effectuated");
    assert_eq!(truth[0]["paid"], true);
    assert_eq!(truth[0]["initial_834"], "sent");
    assert_eq!(
        truth[1]["payment_transaction_id"],
        family["payment_transaction_id"]
    );
    assert_eq!(truth[1]["insurer_status"], "awaiting_payment");
    assert_eq!(truth[1]["pay_now_served"], false);
}
