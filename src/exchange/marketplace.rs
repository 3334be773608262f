//! Marketplace API browsing routes: counties by ZIP, plan search, plan details, issuers.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::catalog::{household_premium_cents, Catalog, Issuer, Member, Metal, Plan};
use super::eligibility::{self, Csr};
use super::error::{ApiError, JsonBody};
use super::state::AppState;

/// Plans on one page of search results.
pub const PAGE_SIZE: usize = 10;

// ---------- request shapes ----------

#[derive(Debug, Deserialize)]
pub struct Person {
    pub age: Option<u32>,
    pub dob: Option<String>,
    #[serde(default)]
    pub uses_tobacco: bool,
    pub aptc_eligible: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub struct Household {
    pub income: Option<f64>,
    #[serde(default)]
    pub people: Vec<Person>,
}

#[derive(Debug, Deserialize)]
pub struct Place {
    pub countyfips: String,
    pub state: Option<String>,
    pub zipcode: Option<String>,
}

/// A validated household: members to rate, income, whether anyone may take the credit.
#[derive(Debug, Clone)]
pub struct CheckedHousehold {
    pub people: Vec<Member>,
    pub income: Option<f64>,
    pub aptc_eligible: bool,
}

impl Household {
    pub fn check(&self) -> Result<CheckedHousehold, ApiError> {
        if self.people.is_empty() {
            return Err(ApiError::invalid(
                "household.people must list at least one person",
            ));
        }
        if self.people.len() > 30 {
            return Err(ApiError::invalid(
                "household.people lists more than 30 people",
            ));
        }
        if let Some(i) = self.income {
            if !i.is_finite() || i < 0.0 {
                return Err(ApiError::invalid(
                    "household.income must be a non-negative number",
                ));
            }
        }
        let mut people = Vec::with_capacity(self.people.len());
        for (i, p) in self.people.iter().enumerate() {
            let age = match (p.age, p.dob.as_deref()) {
                (Some(a), _) => a,
                (None, Some(dob)) => age_from_dob(dob).ok_or_else(|| {
                    ApiError::invalid(format!("household.people[{i}].dob must be YYYY-MM-DD"))
                })?,
                (None, None) => {
                    return Err(ApiError::invalid(format!(
                        "household.people[{i}] needs age or dob"
                    )))
                }
            };
            if age > 125 {
                return Err(ApiError::invalid(format!(
                    "household.people[{i}].age out of range"
                )));
            }
            people.push(Member {
                age: age as u8,
                tobacco: p.uses_tobacco,
            });
        }
        let aptc_eligible = self.people.iter().any(|p| p.aptc_eligible.unwrap_or(true));
        Ok(CheckedHousehold {
            people,
            income: self.income,
            aptc_eligible,
        })
    }
}

/// Age on the 2014 coverage start (1 January 2014).
fn age_from_dob(dob: &str) -> Option<u32> {
    let d = chrono::NaiveDate::parse_from_str(dob, "%Y-%m-%d").ok()?;
    let start = chrono::NaiveDate::from_ymd_opt(2014, 1, 1)?;
    start.years_since(d)
}

/// The default household when a search has none: one 21-year-old.
fn default_household() -> CheckedHousehold {
    CheckedHousehold {
        people: vec![Member {
            age: 21,
            tobacco: false,
        }],
        income: None,
        aptc_eligible: false,
    }
}

impl Place {
    /// The county index, after checking the FIPS (and state when given).
    pub fn county(&self, catalog: &Catalog) -> Result<usize, ApiError> {
        if self.countyfips.len() != 5 || !self.countyfips.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ApiError::invalid(format!(
                "place.countyfips must be 5 digits, got {:?}",
                self.countyfips
            )));
        }
        let ci = catalog
            .county_by_fips(&self.countyfips)
            .ok_or_else(|| ApiError::county_not_found(format!("no county {}", self.countyfips)))?;
        let county = &catalog.counties[ci];
        if let Some(st) = self.state.as_deref() {
            if !st.is_empty() && !st.eq_ignore_ascii_case(catalog.states[county.state].abbrev) {
                return Err(ApiError::invalid(format!(
                    "county {} is not in state {st}",
                    county.fips
                )));
            }
        }
        if let Some(z) = self.zipcode.as_deref() {
            let well_formed = z.len() == 5 && z.bytes().all(|b| b.is_ascii_digit());
            if !z.is_empty() && !well_formed {
                return Err(ApiError::invalid(format!(
                    "place.zipcode must be 5 digits, got {z:?}"
                )));
            }
        }
        Ok(ci)
    }
}

// ---------- response shapes ----------

#[derive(Serialize)]
pub struct IssuerView<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub state: &'a str,
    pub individual_url: String,
    pub toll_free: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_url: Option<String>,
}

impl<'a> IssuerView<'a> {
    pub fn new(catalog: &'a Catalog, issuer: &'a Issuer, base_url: Option<&str>) -> Self {
        IssuerView {
            id: issuer.id,
            name: issuer.name,
            state: catalog.states[issuer.state].abbrev,
            individual_url: format!("https://www.example.com/issuers/{}", issuer.id),
            toll_free: issuer.toll_free,
            payment_url: base_url.map(|b| format!("{b}/issuers/{}/pay-now", issuer.id)),
        }
    }
}

#[derive(Serialize)]
pub struct CostShare {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub amount: f64,
    pub family_cost: &'static str,
    pub network_tier: &'static str,
    pub csr: &'static str,
    pub individual: bool,
    pub family: bool,
}

#[derive(Serialize)]
pub struct QualityRating {
    pub available: bool,
    pub global_rating: u8,
}

#[derive(Serialize)]
pub struct PlanView<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub issuer: IssuerView<'a>,
    pub metal_level: &'static str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub market: &'static str,
    pub state: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub premium: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub premium_w_credit: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ehb_premium: Option<f64>,
    pub deductibles: [CostShare; 2],
    pub moops: [CostShare; 2],
    pub hsa_eligible: bool,
    pub quality_rating: QualityRating,
    pub benefits_url: String,
    pub brochure_url: String,
}

pub fn cents(c: u32) -> f64 {
    f64::from(c) / 100.0
}

fn cost_shares(kind: &'static str, amount: u32) -> [CostShare; 2] {
    let share = |family_cost, individual, family, amount: u32| CostShare {
        kind,
        amount: f64::from(amount),
        family_cost,
        network_tier: "In-Network",
        csr: Csr::None.label(),
        individual,
        family,
    };
    [
        share("Individual", true, false, amount),
        share("Family Per Group", false, true, amount * 2),
    ]
}

impl<'a> PlanView<'a> {
    /// A plan; `priced` is (household premium in cents, APTC in cents) for search results.
    pub fn new(catalog: &'a Catalog, plan: &'a Plan, priced: Option<(u32, u32)>) -> Self {
        let issuer = &catalog.issuers[plan.issuer];
        PlanView {
            id: &plan.id,
            name: &plan.name,
            issuer: IssuerView::new(catalog, issuer, None),
            metal_level: plan.metal.as_str(),
            kind: plan.kind.as_str(),
            market: "Individual",
            state: catalog.states[plan.state].abbrev,
            premium: priced.map(|(p, _)| cents(p)),
            premium_w_credit: priced.map(|(p, a)| cents(p.saturating_sub(a))),
            ehb_premium: priced.map(|(p, _)| cents(p)),
            deductibles: cost_shares("Combined Medical and Drug EHB Deductible", plan.deductible),
            moops: cost_shares(
                "Maximum Out of Pocket for Medical and Drug EHB Benefits (Total)",
                plan.moop,
            ),
            hsa_eligible: plan.hsa_eligible,
            quality_rating: QualityRating {
                available: false,
                global_rating: 0,
            },
            benefits_url: format!("https://www.example.com/plans/{}/benefits", plan.id),
            brochure_url: format!("https://www.example.com/plans/{}/brochure.pdf", plan.id),
        }
    }
}

/// The JSON of every plan of the catalog, written once: a plan's view is the same in every answer
/// but for its three premiums, so plan details send a body written at start, and a search page
/// writes only the premiums between a plan's cached head and tail. The bytes are those
/// `serde_json::to_vec(&PlanView::new(…))` writes (a test holds them to it).
pub struct PlanJson {
    /// `{"plan":{…}}` of plan details, by plan index.
    details: Vec<axum::body::Bytes>,
    /// By plan index: the view up to `state` (no closing brace), and from `,"deductibles"` on.
    heads: Vec<Box<[u8]>>,
    tails: Vec<Box<[u8]>>,
}

/// The fields of a [`PlanView`] before its premiums.
#[derive(Serialize)]
struct PlanHead<'a> {
    id: &'a str,
    name: &'a str,
    issuer: &'a IssuerView<'a>,
    metal_level: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    market: &'static str,
    state: &'a str,
}

/// The fields of a [`PlanView`] after its premiums.
#[derive(Serialize)]
struct PlanTail<'a> {
    deductibles: &'a [CostShare; 2],
    moops: &'a [CostShare; 2],
    hsa_eligible: bool,
    quality_rating: &'a QualityRating,
    benefits_url: &'a str,
    brochure_url: &'a str,
}

impl PlanJson {
    pub fn new(catalog: &Catalog) -> Self {
        let mut json = PlanJson {
            details: Vec::with_capacity(catalog.plans.len()),
            heads: Vec::with_capacity(catalog.plans.len()),
            tails: Vec::with_capacity(catalog.plans.len()),
        };
        #[derive(Serialize)]
        struct Body<'a> {
            plan: PlanView<'a>,
        }
        for plan in &catalog.plans {
            let v = PlanView::new(catalog, plan, None);
            let details = serde_json::to_vec(&Body { plan: v }).unwrap_or_default();
            json.details.push(details.into());
            let v = PlanView::new(catalog, plan, None);
            let mut head = serde_json::to_vec(&PlanHead {
                id: v.id,
                name: v.name,
                issuer: &v.issuer,
                metal_level: v.metal_level,
                kind: v.kind,
                market: v.market,
                state: v.state,
            })
            .unwrap_or_default();
            head.pop(); // the closing brace: the premiums and the tail follow
            let tail = serde_json::to_vec(&PlanTail {
                deductibles: &v.deductibles,
                moops: &v.moops,
                hsa_eligible: v.hsa_eligible,
                quality_rating: &v.quality_rating,
                benefits_url: &v.benefits_url,
                brochure_url: &v.brochure_url,
            })
            .unwrap_or_default();
            let mut with_comma = Vec::with_capacity(tail.len());
            with_comma.push(b',');
            with_comma.extend_from_slice(&tail[1..]); // the opening brace
            json.heads.push(head.into_boxed_slice());
            json.tails.push(with_comma.into_boxed_slice());
        }
        json
    }

    /// The body of plan details for plan index `pi`: `{"plan":{…}}`.
    pub fn details(&self, pi: usize) -> axum::body::Bytes {
        self.details[pi].clone()
    }

    /// Append plan `pi` priced at (household premium, APTC) in cents, as `PlanView` writes it.
    fn write_priced(&self, out: &mut Vec<u8>, pi: usize, premium: u32, credit: u32) {
        out.extend_from_slice(&self.heads[pi]);
        let mut number = |key: &[u8], cents_value: u32| {
            out.extend_from_slice(key);
            // serde_json writes the number as in a whole view; a number cannot fail to serialise.
            let _ = serde_json::to_writer(&mut *out, &cents(cents_value));
        };
        number(b",\"premium\":", premium);
        number(b",\"premium_w_credit\":", premium.saturating_sub(credit));
        number(b",\"ehb_premium\":", premium);
        out.extend_from_slice(&self.tails[pi]);
    }

    /// A search answer: `{"plans":[…],` the page's plans, each (plan index, household premium, APTC)
    /// in cents, then `rest`, the other fields serialised as an object, without its opening brace.
    fn search_body(&self, page: &[(usize, u32, u32)], rest: &[u8]) -> Vec<u8> {
        let capacity = page
            .iter()
            .map(|&(pi, _, _)| self.priced_len(pi))
            .sum::<usize>()
            + rest.len()
            + 16;
        let mut body = Vec::with_capacity(capacity);
        body.extend_from_slice(b"{\"plans\":[");
        for (i, &(pi, premium, credit)) in page.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            self.write_priced(&mut body, pi, premium, credit);
        }
        body.extend_from_slice(b"],");
        body.extend_from_slice(&rest[1..]);
        body
    }

    /// Bytes a priced plan takes, at most (for the capacity of a page).
    fn priced_len(&self, pi: usize) -> usize {
        self.heads[pi].len() + self.tails[pi].len() + 96
    }
}

// ---------- counties ----------

#[derive(Serialize)]
pub struct CountyView {
    pub fips: &'static str,
    pub name: &'static str,
    pub state: &'static str,
    pub zipcode: &'static str,
}

#[derive(Serialize)]
pub struct CountiesResponse {
    pub counties: Vec<CountyView>,
}

pub async fn counties_by_zip(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<CountiesResponse>, ApiError> {
    let Path(zip) = path?;
    if zip.is_empty() || zip.len() > 5 || !zip.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::invalid(format!(
            "zipcode must be 1 to 5 digits, got {zip:?}"
        )));
    }
    let catalog = &state.catalog;
    let counties: Vec<CountyView> = catalog
        .counties_by_zip(&zip)
        .map(|(z, ci)| {
            let c = &catalog.counties[ci];
            CountyView {
                fips: c.fips,
                name: c.name,
                state: catalog.states[c.state].abbrev,
                zipcode: z,
            }
        })
        .collect();
    if counties.is_empty() {
        return Err(ApiError::county_not_found(format!(
            "no county for ZIP {zip}"
        )));
    }
    Ok(Json(CountiesResponse { counties }))
}

// ---------- plan search ----------

#[derive(Debug, Default, Deserialize)]
pub struct Filter {
    #[serde(default)]
    pub metal_levels: Vec<String>,
    #[serde(default)]
    pub issuers: Vec<String>,
    #[serde(default)]
    pub types: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct SearchRequest {
    pub household: Option<Household>,
    pub market: Option<String>,
    pub place: Place,
    #[serde(default)]
    pub offset: usize,
    pub order: Option<String>,
    pub sort: Option<String>,
    pub aptc_override: Option<f64>,
    #[serde(default)]
    pub filter: Filter,
}

#[derive(Serialize)]
pub struct Facet {
    pub value: String,
    pub count: usize,
}

#[derive(Serialize)]
pub struct FacetGroup {
    pub name: &'static str,
    pub facets: Vec<Facet>,
}

#[derive(Serialize)]
pub struct RateArea {
    pub state: &'static str,
    pub area: u8,
}

#[derive(Serialize)]
pub struct MinMax {
    pub min: f64,
    pub max: f64,
}

#[derive(Serialize)]
pub struct Ranges {
    pub premiums: MinMax,
    pub deductibles: MinMax,
}

#[derive(Serialize)]
pub struct SearchResponse<'a> {
    pub plans: Vec<PlanView<'a>>,
    pub total: usize,
    pub facet_groups: Vec<FacetGroup>,
    pub rate_area: RateArea,
    pub ranges: Ranges,
}

pub async fn search(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<SearchRequest>,
) -> Result<axum::response::Response, ApiError> {
    let catalog = &state.catalog;
    let ci = req.place.county(catalog)?;
    if let Some(m) = req.market.as_deref() {
        if !matches!(m, "Individual" | "Any") {
            return Err(ApiError::invalid(format!(
                "market {m:?} is not served (Individual only)"
            )));
        }
    }
    let household = match &req.household {
        Some(h) => h.check()?,
        None => default_household(),
    };
    let by_deductible = match req.sort.as_deref() {
        None | Some("premium") => false,
        Some("deductible") => true,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "sort {other:?} must be premium or deductible"
            )))
        }
    };
    let desc = match req.order.as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "order {other:?} must be asc or desc"
            )))
        }
    };
    let mut metals = Vec::new();
    for m in &req.filter.metal_levels {
        match Metal::ALL
            .iter()
            .find(|x| x.as_str().eq_ignore_ascii_case(m))
        {
            Some(x) => metals.push(*x),
            None => return Err(ApiError::invalid(format!("unknown metal level {m:?}"))),
        }
    }
    let aptc_cents = match req.aptc_override {
        Some(a) if a.is_finite() && a >= 0.0 => (a * 100.0).round() as u32,
        Some(_) => {
            return Err(ApiError::invalid(
                "aptc_override must be a non-negative number",
            ))
        }
        None => {
            eligibility::estimate(
                catalog,
                ci,
                household.income,
                &household.people,
                household.aptc_eligible,
            )
            .aptc_cents
        }
    };

    let county = &catalog.counties[ci];
    // One rating factor for the household: premiums are base × area × Σ member factors.
    let mut matching: Vec<(&Plan, u32, usize)> = county
        .plans
        .iter()
        .map(|&pi| (&catalog.plans[pi as usize], pi as usize))
        .filter(|&(p, _)| metals.is_empty() || metals.contains(&p.metal))
        .filter(|(p, _)| {
            req.filter.issuers.is_empty()
                || req
                    .filter
                    .issuers
                    .iter()
                    .any(|i| i == catalog.issuers[p.issuer].id)
        })
        .filter(|(p, _)| {
            req.filter.types.is_empty()
                || req
                    .filter
                    .types
                    .iter()
                    .any(|t| t.eq_ignore_ascii_case(p.kind.as_str()))
        })
        .map(|(p, pi)| {
            (
                p,
                household_premium_cents(p.base_cents, county.area_factor, &household.people),
                pi,
            )
        })
        .collect();
    // county.plans is already cheapest-first, so the premium sort is stable on base rate.
    if by_deductible {
        matching.sort_by_key(|(p, prem, _)| (p.deductible, *prem));
    }
    if desc {
        matching.reverse();
    }

    let mut metal_counts = [0usize; 5];
    let mut issuer_counts: Vec<(usize, usize)> = Vec::new();
    let (mut pmin, mut pmax, mut dmin, mut dmax) = (u32::MAX, 0u32, u32::MAX, 0u32);
    for (p, prem, _) in &matching {
        metal_counts[p.metal as usize] += 1;
        match issuer_counts.iter_mut().find(|(i, _)| *i == p.issuer) {
            Some(c) => c.1 += 1,
            None => issuer_counts.push((p.issuer, 1)),
        }
        pmin = pmin.min(*prem);
        pmax = pmax.max(*prem);
        dmin = dmin.min(p.deductible);
        dmax = dmax.max(p.deductible);
    }
    if matching.is_empty() {
        (pmin, dmin) = (0, 0);
    }
    let facet_groups = vec![
        FacetGroup {
            name: "metalLevels",
            facets: Metal::ALL
                .iter()
                .zip(metal_counts)
                .filter(|(_, n)| *n > 0)
                .map(|(m, count)| Facet {
                    value: m.as_str().to_string(),
                    count,
                })
                .collect(),
        },
        FacetGroup {
            name: "issuers",
            facets: issuer_counts
                .iter()
                .map(|&(i, count)| Facet {
                    value: catalog.issuers[i].id.to_string(),
                    count,
                })
                .collect(),
        },
    ];
    let total = matching.len();
    let page: Vec<(usize, u32, u32)> = matching
        .iter()
        .skip(req.offset)
        .take(PAGE_SIZE)
        .map(|&(p, prem, pi)| {
            // The credit does not apply to catastrophic plans.
            let credit = if p.metal == Metal::Catastrophic {
                0
            } else {
                aptc_cents
            };
            (pi, prem, credit)
        })
        .collect();
    // Everything but the plans, serialised as before; the plans are written from their cached JSON
    // in front of it, where `plans` comes first in the body.
    let rest = serde_json::to_vec(&SearchRest {
        total,
        facet_groups,
        rate_area: RateArea {
            state: catalog.states[county.state].abbrev,
            area: county.rating_area,
        },
        ranges: Ranges {
            premiums: MinMax {
                min: cents(pmin),
                max: cents(pmax),
            },
            deductibles: MinMax {
                min: f64::from(dmin),
                max: f64::from(dmax),
            },
        },
    })
    .unwrap_or_else(|_| b"{}".to_vec());
    let body = state.plan_json.search_body(&page, &rest);
    Ok(json_response(body))
}

/// The fields of a search answer after its plans, in their order.
#[derive(Serialize)]
struct SearchRest {
    total: usize,
    facet_groups: Vec<FacetGroup>,
    rate_area: RateArea,
    ranges: Ranges,
}

/// A 200 with a JSON body already written, with the headers `Json` gives.
fn json_response(body: impl Into<axum::body::Body>) -> axum::response::Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        )],
        body.into(),
    )
        .into_response()
}

// ---------- plan details ----------

pub async fn plan(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<axum::response::Response, ApiError> {
    let Path(id) = path?;
    let pi = lookup_plan(&state.catalog, &id)?;
    Ok(json_response(state.plan_json.details(pi)))
}

/// Plan index for an id: 400/1003 when ill-formed, 404/1006 when unknown.
pub fn lookup_plan(catalog: &Catalog, id: &str) -> Result<usize, ApiError> {
    if !super::catalog::is_plan_id(id) {
        return Err(ApiError::invalid(format!("invalid plan ID format: {id:?}")));
    }
    catalog
        .plan_by_id(id)
        .ok_or_else(|| ApiError::plan_not_found(format!("no plan {id}")))
}

// ---------- issuers ----------

#[derive(Debug, Deserialize)]
pub struct IssuerQuery {
    pub state: Option<String>,
    pub limit: Option<usize>,
    #[serde(default)]
    pub offset: usize,
}

pub async fn issuers(
    State(state): State<AppState>,
    query: Result<Query<IssuerQuery>, QueryRejection>,
) -> Result<axum::response::Response, ApiError> {
    let Query(q) = query?;
    let catalog = &state.catalog;
    let limit = q.limit.unwrap_or(25).min(100);
    let matching: Vec<&Issuer> = catalog
        .issuers
        .iter()
        .filter(|i| {
            q.state
                .as_deref()
                .is_none_or(|s| catalog.states[i.state].abbrev.eq_ignore_ascii_case(s))
        })
        .collect();
    #[derive(Serialize)]
    struct Body<'a> {
        issuers: Vec<IssuerView<'a>>,
        total: usize,
    }
    let base = Some(state.base_url.as_str());
    let issuers = matching
        .iter()
        .skip(q.offset)
        .take(limit)
        .map(|i| IssuerView::new(catalog, i, base))
        .collect();
    Ok(Json(Body {
        issuers,
        total: matching.len(),
    })
    .into_response())
}

pub async fn issuer(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<axum::response::Response, ApiError> {
    let Path(id) = path?;
    let ii = lookup_issuer(&state.catalog, &id)?;
    #[derive(Serialize)]
    struct Body<'a> {
        issuer: IssuerView<'a>,
    }
    let view = IssuerView::new(
        &state.catalog,
        &state.catalog.issuers[ii],
        Some(&state.base_url),
    );
    Ok(Json(Body { issuer: view }).into_response())
}

/// Issuer index for a HIOS id: 400/1003 when not 5 digits, 404/1004 when unknown.
pub fn lookup_issuer(catalog: &Catalog, id: &str) -> Result<usize, ApiError> {
    if id.len() != 5 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::invalid(format!(
            "invalid issuer ID format: {id:?}"
        )));
    }
    catalog
        .issuer_by_id(id)
        .ok_or_else(|| ApiError::issuer_not_found(format!("no issuer {id}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cached JSON is byte for byte what serialising a `PlanView` writes, for every plan of the
    /// catalog, priced or not.
    #[test]
    fn cached_plan_json_is_what_a_plan_view_writes() {
        let catalog = Catalog::build();
        let json = PlanJson::new(&catalog);
        #[derive(Serialize)]
        struct Body<'a> {
            plan: PlanView<'a>,
        }
        let prices = [
            (0, 0),
            (1, 0),
            (12_345, 2_001),
            (40_000, 50_000),
            (99_999_999, 7),
        ];
        for (pi, plan) in catalog.plans.iter().enumerate() {
            let details = serde_json::to_vec(&Body {
                plan: PlanView::new(&catalog, plan, None),
            })
            .unwrap();
            assert_eq!(&json.details(pi)[..], &details[..], "plan {}", plan.id);
            for (premium, credit) in prices {
                let view = PlanView::new(&catalog, plan, Some((premium, credit)));
                let mut written = Vec::new();
                json.write_priced(&mut written, pi, premium, credit);
                assert_eq!(
                    String::from_utf8(written).unwrap(),
                    serde_json::to_string(&view).unwrap(),
                    "plan {} at {premium}/{credit}",
                    plan.id
                );
                assert!(json.priced_len(pi) >= serde_json::to_vec(&view).unwrap().len());
            }
        }
    }

    /// A search page written from the cache is the body the whole `SearchResponse` serialises to.
    #[test]
    fn a_search_page_is_the_search_response_it_replaces() {
        let catalog = Catalog::build();
        let json = PlanJson::new(&catalog);
        let county = &catalog.counties[0];
        let page: Vec<usize> = county
            .plans
            .iter()
            .take(PAGE_SIZE)
            .map(|&p| p as usize)
            .collect();
        let facet_groups = || {
            vec![FacetGroup {
                name: "metalLevels",
                facets: vec![Facet {
                    value: "Silver".into(),
                    count: 3,
                }],
            }]
        };
        let ranges = || Ranges {
            premiums: MinMax {
                min: 1.5,
                max: 300.25,
            },
            deductibles: MinMax {
                min: 0.0,
                max: 6350.0,
            },
        };
        let whole = serde_json::to_vec(&SearchResponse {
            plans: page
                .iter()
                .map(|&pi| PlanView::new(&catalog, &catalog.plans[pi], Some((31_415, 1_000))))
                .collect(),
            total: 42,
            facet_groups: facet_groups(),
            rate_area: RateArea {
                state: "NC",
                area: 4,
            },
            ranges: ranges(),
        })
        .unwrap();
        let rest = serde_json::to_vec(&SearchRest {
            total: 42,
            facet_groups: facet_groups(),
            rate_area: RateArea {
                state: "NC",
                area: 4,
            },
            ranges: ranges(),
        })
        .unwrap();
        let priced: Vec<(usize, u32, u32)> = page.iter().map(|&pi| (pi, 31_415, 1_000)).collect();
        let body = json.search_body(&priced, &rest);
        assert_eq!(
            String::from_utf8(body).unwrap(),
            String::from_utf8(whole).unwrap()
        );
    }
}
