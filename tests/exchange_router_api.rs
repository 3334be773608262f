//! The exchange over loopback: a real server on 127.0.0.1:0 driven with reqwest.

use std::net::SocketAddr;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use surge::exchange::{self, saml, ExchangeConfig, RunningExchange};

mod common;
use common::html_attr;

async fn server() -> (RunningExchange, Client) {
    let config = ExchangeConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..Default::default()
    };
    let ex = exchange::start(config).await.expect("exchange starts");
    (ex, Client::new())
}

async fn get(c: &Client, url: String) -> (StatusCode, Value) {
    let r = c.get(url).send().await.expect("GET");
    let status = r.status();
    (status, r.json().await.expect("JSON body"))
}

async fn post(c: &Client, url: String, body: &Value) -> (StatusCode, Value) {
    let r = c.post(url).json(body).send().await.expect("POST");
    let status = r.status();
    (status, r.json().await.expect("JSON body"))
}

fn household(income: f64, ages: &[u32]) -> Value {
    let people: Vec<Value> = ages
        .iter()
        .map(|a| json!({"age": a, "uses_tobacco": false, "aptc_eligible": true}))
        .collect();
    json!({"income": income, "people": people})
}

fn place(fips: &str, state: &str, zip: &str) -> Value {
    json!({"countyfips": fips, "state": state, "zipcode": zip})
}

fn assert_error(body: &Value, status: StatusCode, code: &str) {
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status.as_str(), "{body}");
    assert!(
        body["message"].is_string() && body["error"].is_string(),
        "{body}"
    );
}

async fn apply(c: &Client, base: &str, h: Value, p: Value) -> String {
    let (s, b) = post(
        c,
        format!("{base}/api/v1/enrollment/applications"),
        &json!({"household": h, "place": p, "year": 2014}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    b["application"]["id"]
        .as_str()
        .expect("application id")
        .to_string()
}

async fn select(c: &Client, base: &str, app: &str, plan: &str) -> Value {
    let (s, b) = post(
        c,
        format!("{base}/api/v1/enrollment/applications/{app}/selection"),
        &json!({"plan_id": plan}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    b["enrollment"].clone()
}

async fn pay_now_form(c: &Client, base: &str, ptid: &str) -> (String, String, String) {
    let r = c
        .get(format!("{base}/api/v1/enrollment/{ptid}/pay-now"))
        .send()
        .await
        .expect("pay-now");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = r.text().await.unwrap();
    assert!(html.contains("<noscript>"));
    (
        html_attr(&html, "<form", "action"),
        html_attr(&html, "name=\"SAMLResponse\"", "value"),
        html_attr(&html, "name=\"RelayState\"", "value"),
    )
}

#[tokio::test]
async fn full_journey_by_hand() {
    let (ex, c) = server().await;
    let base = ex.url().to_string();

    // County by ZIP.
    let (s, b) = get(
        &c,
        format!("{base}/api/v1/counties/by/zip/27601?apikey=x&year=2014"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let county = &b["counties"][0];
    assert_eq!(county["fips"], "37183");
    assert_eq!(county["state"], "NC");
    let nc = place("37183", "NC", "27601");

    // Plan search, page 1 and page 2.
    let search = |offset: usize| {
        json!({"household": household(32000.0, &[34]), "market": "Individual", "place": nc, "year": 2014,
               "offset": offset, "order": "asc", "sort": "premium"})
    };
    let (s, p1) = post(&c, format!("{base}/api/v1/plans/search"), &search(0)).await;
    assert_eq!(s, StatusCode::OK, "{p1}");
    let (_, p2) = post(&c, format!("{base}/api/v1/plans/search"), &search(10)).await;
    let total = p1["total"].as_u64().unwrap();
    assert!(total > 20);
    assert_eq!(p2["total"], p1["total"], "total is stable across pages");
    assert_eq!(p1["plans"].as_array().unwrap().len(), 10);
    assert_eq!(p2["plans"].as_array().unwrap().len(), 10);
    assert_ne!(p1["plans"][0]["id"], p2["plans"][0]["id"]);
    let premiums: Vec<f64> = p1["plans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["premium"].as_f64().unwrap())
        .collect();
    assert!(
        premiums.windows(2).all(|w| w[0] <= w[1]),
        "ascending premiums {premiums:?}"
    );
    assert!(p1["plans"][9]["premium"].as_f64() <= p2["plans"][0]["premium"].as_f64());
    assert_eq!(p1["facet_groups"][0]["name"], "metalLevels");
    let facet_total: u64 = p1["facet_groups"][0]["facets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["count"].as_u64().unwrap())
        .sum();
    assert_eq!(facet_total, total);
    assert_eq!(p1["rate_area"]["area"], 4);
    assert!(p1["ranges"]["premiums"]["min"].as_f64() <= p1["ranges"]["premiums"]["max"].as_f64());

    // Silver filter and plan details.
    let mut silver = search(0);
    silver["filter"] = json!({"metal_levels": ["Silver"]});
    let (_, sb) = post(&c, format!("{base}/api/v1/plans/search"), &silver).await;
    let plan = sb["plans"][0].clone();
    assert_eq!(plan["metal_level"], "Silver");
    assert!(
        plan["premium_w_credit"].as_f64().unwrap() < plan["premium"].as_f64().unwrap(),
        "{plan}"
    );
    let plan_id = plan["id"].as_str().unwrap().to_string();
    let (s, d) = get(&c, format!("{base}/api/v1/plans/{plan_id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(d["plan"]["id"], plan_id.as_str());
    assert!(d["plan"].get("premium").is_none());
    let issuer_id = d["plan"]["issuer"]["id"].as_str().unwrap().to_string();

    // Eligibility estimates.
    let estimate = |h: Value, p: Value| json!({"household": h, "place": p, "year": 2014});
    let url = format!("{base}/api/v1/households/eligibility/estimates");
    let (_, low) = post(
        &c,
        url.clone(),
        &estimate(household(12000.0, &[34]), place("26163", "MI", "48201")),
    )
    .await;
    assert_eq!(
        low["estimates"][0]["is_medicaid_chip"], true,
        "Medicaid in an expansion state: {low}"
    );
    assert_eq!(low["estimates"][0]["aptc"], 0.0);
    let (_, gap) = post(
        &c,
        url.clone(),
        &estimate(household(9000.0, &[34]), nc.clone()),
    )
    .await;
    assert_eq!(
        gap["estimates"][0]["is_medicaid_chip"], false,
        "coverage gap in a non-expansion state"
    );
    let (_, mid) = post(
        &c,
        url.clone(),
        &estimate(household(23000.0, &[34]), nc.clone()),
    )
    .await;
    assert!(
        mid["estimates"][0]["aptc"].as_f64().unwrap() > 0.0,
        "APTC at 200% FPL: {mid}"
    );
    let (_, high) = post(
        &c,
        url.clone(),
        &estimate(household(50000.0, &[34]), nc.clone()),
    )
    .await;
    assert_eq!(high["estimates"][0]["aptc"], 0.0, "no APTC above 400% FPL");
    let (_, fam) = post(
        &c,
        url,
        &estimate(household(40000.0, &[40, 38, 10]), nc.clone()),
    )
    .await;
    assert_eq!(fam["estimates"].as_array().unwrap().len(), 3);

    // Application and selection.
    let app = apply(&c, &base, household(32000.0, &[34]), nc.clone()).await;
    assert!(app.starts_with('A') && app.len() == 13);
    let e = select(&c, &base, &app, &plan_id).await;
    let ptid = e["payment_transaction_id"].as_str().unwrap().to_string();
    assert_eq!(ptid.len(), 13);
    assert_eq!(e["issuer_id"], issuer_id.as_str());
    let (premium, aptc, owed) = (
        e["premium"].as_f64().unwrap(),
        e["aptc"].as_f64().unwrap(),
        e["total_amount_owed"].as_f64().unwrap(),
    );
    assert!((premium - aptc - owed).abs() < 0.005);
    assert_eq!(
        e["pay_now_url"],
        format!("/api/v1/enrollment/{ptid}/pay-now")
    );

    // Before payment: the insurer holds the 834 and waits for the binder payment.
    let status_url = format!("{base}/issuers/{issuer_id}/enrollments/{ptid}");
    let (s, st) = get(&c, status_url.clone()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(st["enrollment"]["status"], "awaiting_payment");
    assert_eq!(st["enrollment"]["effectuated"], false);
    assert_eq!(st["enrollment"]["enrollment_834_received"], true);

    // Pay Now: the exchange's auto-submitting form, posted to the insurer.
    let (action, saml_response, relay) = pay_now_form(&c, &base, &ptid).await;
    assert_eq!(action, format!("{base}/issuers/{issuer_id}/pay-now"));
    assert_eq!(relay, ptid);
    let xml = String::from_utf8(B64.decode(&saml_response).unwrap()).unwrap();
    for name in [
        "Payment Transaction ID",
        "Assigned QHP Identifier",
        "Total Amount Owed",
        "APTC Amount",
        "Subscriber Identifier",
    ] {
        assert!(xml.contains(&format!("Name=\"{name}\"")), "{name}");
    }
    let r = c
        .post(&action)
        .form(&[
            ("SAMLResponse", saml_response.as_str()),
            ("RelayState", relay.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    let pay_action = html_attr(&page, "<form", "action");
    assert_eq!(pay_action, format!("/issuers/{issuer_id}/payments"));
    let amount = html_attr(&page, "name=\"amount\"", "value");
    assert_eq!(amount, format!("{owed:.2}"));
    let token = html_attr(&page, "name=\"payment_token\"", "value");
    let form_ptid = html_attr(&page, "name=\"payment_transaction_id\"", "value");
    assert_eq!(form_ptid, ptid);

    // The binder payment, as the browser would send it.
    let r = c
        .post(format!("{base}{pay_action}"))
        .form(&[
            ("payment_transaction_id", ptid.as_str()),
            ("amount", amount.as_str()),
            ("payment_token", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let paid: Value = r.json().await.unwrap();
    assert_eq!(paid["payment"]["status"], "paid");
    assert_eq!(
        paid["payment"]["confirmation"],
        format!("P{issuer_id}-{ptid}")
    );

    let (_, st) = get(&c, status_url).await;
    assert_eq!(st["enrollment"]["status"], "effectuated");
    assert_eq!(st["enrollment"]["effectuated"], true);
    assert_eq!(st["enrollment"]["paid"], true);

    // Paying twice is a conflict (JSON body this time).
    let (s, b) = post(
        &c,
        format!("{base}{pay_action}"),
        &json!({"payment_transaction_id": ptid, "amount": owed, "payment_token": token}),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_error(&b, s, "2002");
    ex.shutdown().await;
}

/// Segments of one interchange, without terminators.
fn segments(interchange: &str) -> Vec<&str> {
    interchange
        .lines()
        .map(|l| l.trim_end_matches('~'))
        .filter(|l| !l.is_empty())
        .collect()
}

fn element(seg: &str, n: usize) -> &str {
    seg.split('*')
        .nth(n)
        .unwrap_or_else(|| panic!("element {n} of {seg}"))
}

fn category_value(segs: &[&str], name: &str) -> f64 {
    let at = segs
        .iter()
        .position(|s| *s == format!("N1*75*{name}"))
        .unwrap_or_else(|| panic!("{name}"));
    element(segs[at + 1], 2).parse().unwrap()
}

#[tokio::test]
async fn inbox_holds_one_valid_834_per_selection() {
    let (ex, c) = server().await;
    let base = ex.url().to_string();
    let oh = place("39049", "OH", "43215");
    let (_, res) = post(
        &c,
        format!("{base}/api/v1/plans/search"),
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
        let app = apply(&c, &base, h.clone(), oh.clone()).await;
        ptids.push(
            select(&c, &base, &app, &plan_id).await["payment_transaction_id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }

    let r = c
        .get(format!("{base}/issuers/{issuer_id}/834"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
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
    let r = c
        .get(format!("{base}/issuers/{issuer_id}/834?since=2"))
        .send()
        .await
        .unwrap();
    let later = r.text().await.unwrap();
    assert_eq!(later.matches("ISA*").count(), 1);
    assert!(later.contains(&format!("REF*1L*{}", ptids[2])));
    ex.shutdown().await;
}

/// Enroll someone and return (base URL of the issuer's pay-now, SAMLResponse, ptid, issuer id).
async fn enrolled(c: &Client, base: &str) -> (String, String, String, String) {
    let fl = place("12057", "FL", "33602");
    let (_, res) = post(
        c,
        format!("{base}/api/v1/plans/search"),
        &json!({"place": fl, "market": "Individual"}),
    )
    .await;
    let plan_id = res["plans"][3]["id"].as_str().unwrap().to_string();
    let app = apply(c, base, household(28000.0, &[29]), fl).await;
    let e = select(c, base, &app, &plan_id).await;
    let ptid = e["payment_transaction_id"].as_str().unwrap().to_string();
    let (action, saml_response, _) = pay_now_form(c, base, &ptid).await;
    (
        action,
        saml_response,
        ptid,
        e["issuer_id"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn insurer_refuses_tampered_and_expired_saml() {
    let (ex, c) = server().await;
    let base = ex.url().to_string();
    let (action, saml_response, ptid, issuer_id) = enrolled(&c, &base).await;
    let post_saml = |v: String| {
        let c = c.clone();
        let action = action.clone();
        async move {
            let r = c
                .post(action)
                .form(&[("SAMLResponse", v)])
                .send()
                .await
                .unwrap();
            let s = r.status();
            let body = r.text().await.unwrap();
            (s, body)
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
    let r = c
        .post(&action)
        .form(&[("RelayState", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let (s, _) = post_saml("not base64 at all!".into()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Untampered: accepted.
    let (s, body) = post_saml(saml_response).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert!(body.contains("name=\"payment_token\""));
    ex.shutdown().await;
}

#[tokio::test]
async fn bad_input_gets_marketplace_errors() {
    let (ex, c) = server().await;
    let base = ex.url().to_string();
    let nc = place("37183", "NC", "27601");

    // Malformed JSON.
    let r = c
        .post(format!("{base}/api/v1/plans/search"))
        .header("content-type", "application/json")
        .body("{\"place\": {")
        .send()
        .await
        .unwrap();
    let s = r.status();
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&r.json().await.unwrap(), s, "1003");
    // Missing required field.
    let (s, b) = post(
        &c,
        format!("{base}/api/v1/households/eligibility/estimates"),
        &json!({"place": nc}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&b, s, "1003");
    // Unknown county in a search.
    let (s, b) = post(
        &c,
        format!("{base}/api/v1/plans/search"),
        &json!({"place": place("99999", "", "")}),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&b, s, "1001");

    // Plans: unknown and ill-formed.
    let (s, b) = get(&c, format!("{base}/api/v1/plans/11512NC9999999")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&b, s, "1006");
    let (s, b) = get(&c, format!("{base}/api/v1/plans/not-a-plan")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&b, s, "1003");

    // ZIPs: unknown and not digits.
    let (s, b) = get(&c, format!("{base}/api/v1/counties/by/zip/99999")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&b, s, "1001");
    let (s, b) = get(&c, format!("{base}/api/v1/counties/by/zip/abcde")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&b, s, "1003");

    // Issuers.
    let (s, b) = get(&c, format!("{base}/api/v1/issuers/00000")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&b, s, "1004");

    // Unknown application.
    let (s, b) = post(
        &c,
        format!("{base}/api/v1/enrollment/applications/A999999999999/selection"),
        &json!({"plan_id": "11512NC0100001"}),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&b, s, "2001");

    // Double selection.
    let (_, res) = post(
        &c,
        format!("{base}/api/v1/plans/search"),
        &json!({"place": nc}),
    )
    .await;
    let plan_id = res["plans"][0]["id"].as_str().unwrap().to_string();
    let issuer_id = res["plans"][0]["issuer"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let app = apply(&c, &base, household(40000.0, &[50]), nc.clone()).await;
    let e = select(&c, &base, &app, &plan_id).await;
    let (s, b) = post(
        &c,
        format!("{base}/api/v1/enrollment/applications/{app}/selection"),
        &json!({"plan_id": plan_id}),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_error(&b, s, "2002");

    // A plan from another state is not offered in the application's county.
    let app2 = apply(&c, &base, household(40000.0, &[50]), nc.clone()).await;
    let (_, tx) = post(
        &c,
        format!("{base}/api/v1/plans/search"),
        &json!({"place": place("48201", "TX", "77002")}),
    )
    .await;
    let tx_plan = tx["plans"][0]["id"].as_str().unwrap();
    let (s, _) = post(
        &c,
        format!("{base}/api/v1/enrollment/applications/{app2}/selection"),
        &json!({"plan_id": tx_plan}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Wrong payment amount, wrong token, unknown enrollment.
    let ptid = e["payment_transaction_id"].as_str().unwrap().to_string();
    let (action, saml_response, _) = pay_now_form(&c, &base, &ptid).await;
    let page = c
        .post(action)
        .form(&[("SAMLResponse", saml_response)])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = html_attr(&page, "name=\"payment_token\"", "value");
    let pay = format!("{base}/issuers/{issuer_id}/payments");
    let (s, b) = post(
        &c,
        pay.clone(),
        &json!({"payment_transaction_id": ptid, "amount": 0.01, "payment_token": token}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_error(&b, s, "2004");
    let owed = e["total_amount_owed"].as_f64().unwrap();
    let (s, b) = post(
        &c,
        pay.clone(),
        &json!({"payment_transaction_id": ptid, "amount": owed, "payment_token": "nope"}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_error(&b, s, "2004");
    let (s, b) = post(
        &c,
        pay,
        &json!({"payment_transaction_id": "0000009999999", "amount": owed, "payment_token": token}),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&b, s, "2001");
    let (s, b) = get(
        &c,
        format!("{base}/issuers/{issuer_id}/enrollments/0000009999999"),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&b, s, "2001");

    // Unknown route and wrong method are in the error shape too.
    let (s, b) = get(&c, format!("{base}/api/v1/nowhere")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(b["status"], "404");
    let (s, b) = get(&c, format!("{base}/api/v1/plans/search")).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED, "{b}");
    assert_eq!(b["status"], "405");
    ex.shutdown().await;
}

#[tokio::test]
async fn metrics_count_requests_by_route_template() {
    let (ex, c) = server().await;
    let base = ex.url().to_string();
    for id in ["11512NC0100001", "11512NC9999999"] {
        let _ = c
            .get(format!("{base}/api/v1/plans/{id}"))
            .send()
            .await
            .unwrap();
    }
    let _ = c
        .get(format!("{base}/api/v1/counties/by/zip/27601"))
        .send()
        .await
        .unwrap();
    let r = c.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(r.text().await.unwrap(), "ok");
    let docs = c
        .get(format!("{base}/api/v1/docs"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(docs.contains("/api/v1/plans/search"));

    let text = c
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
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
        r#"exchange_request_duration_seconds_bucket{route="/api/v1/plans/{plan_id}",le="+Inf"} 2"#
    ));
    assert!(!text.contains("11512NC0100001"), "raw paths never appear");
    ex.shutdown().await;
}

#[tokio::test]
async fn catalog_zips_all_resolve_to_counties_with_plans() {
    let (ex, c) = server().await;
    let base = ex.url().to_string();
    let zips = exchange::catalog::zips();
    assert!(zips.len() >= 12);
    for zip in zips {
        let (s, b) = get(&c, format!("{base}/api/v1/counties/by/zip/{zip}")).await;
        assert_eq!(s, StatusCode::OK, "{zip}");
        let county = &b["counties"][0];
        let p = json!({"countyfips": county["fips"], "state": county["state"], "zipcode": zip});
        let (s, res) = post(
            &c,
            format!("{base}/api/v1/plans/search"),
            &json!({"place": p}),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        assert!(res["total"].as_u64().unwrap() >= 10, "{zip}");
    }
    ex.shutdown().await;
}

/// Validate a real inbox with pyx12 (`scripts/validate-834.sh`) when `x12valid` is installed;
/// `SURGE_834_OUT=path` also keeps the file for a look by hand.
#[tokio::test]
async fn inbox_passes_pyx12_when_available() {
    let (ex, c) = server().await;
    let base = ex.url().to_string();
    let mi = place("26163", "MI", "48201");
    let (_, res) = post(
        &c,
        format!("{base}/api/v1/plans/search"),
        &json!({"place": mi}),
    )
    .await;
    let plan_id = res["plans"][5]["id"].as_str().unwrap().to_string();
    let issuer_id = res["plans"][5]["issuer"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    for h in [
        household(30000.0, &[34]),
        household(60000.0, &[45, 43, 12, 9, 3]),
    ] {
        let app = apply(&c, &base, h, mi.clone()).await;
        select(&c, &base, &app, &plan_id).await;
    }
    let text = c
        .get(format!("{base}/issuers/{issuer_id}/834"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    ex.shutdown().await;

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
    let have_pyx12 = std::process::Command::new("x12valid")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have_pyx12 {
        eprintln!("x12valid not installed: skipping pyx12 validation of {path}");
        return;
    }
    for file in [path.clone(), format!("{path}.all")] {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/validate-834.sh");
        let out = std::process::Command::new(script)
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pyx12 rejects {file}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
