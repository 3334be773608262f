//! Eligibility arithmetic: % of the poverty line, Medicaid, APTC from the benchmark silver plan, CSR.

use super::catalog::{household_premium_cents, Catalog, Member};

/// 2013 HHS poverty guideline (48 contiguous states), used for 2014 coverage.
pub fn poverty_line(household_size: usize) -> f64 {
    11_490.0 + 4_020.0 * (household_size.max(1) as f64 - 1.0)
}

/// 2014 applicable percentage (share of income expected towards the benchmark plan) for an income
/// given as % of the poverty line; linear within each band.
pub fn applicable_percentage(pct_fpl: f64) -> f64 {
    const BANDS: [(f64, f64, f64, f64); 5] = [
        (133.0, 150.0, 3.02, 4.02),
        (150.0, 200.0, 4.02, 6.34),
        (200.0, 250.0, 6.34, 8.10),
        (250.0, 300.0, 8.10, 9.56),
        (300.0, 400.0, 9.56, 9.56),
    ];
    if pct_fpl < 133.0 {
        return 2.01;
    }
    for (lo, hi, a, b) in BANDS {
        if pct_fpl < hi {
            return a + (b - a) * (pct_fpl - lo) / (hi - lo);
        }
    }
    9.56
}

/// Cost-sharing reduction variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Csr {
    None,
    Csr73,
    Csr87,
    Csr94,
}

impl Csr {
    pub fn label(self) -> &'static str {
        match self {
            Csr::None => "Exchange variant (no CSR)",
            Csr::Csr73 => "73% AV Level Silver Plan CSR",
            Csr::Csr87 => "87% AV Level Silver Plan CSR",
            Csr::Csr94 => "94% AV Level Silver Plan CSR",
        }
    }
    /// The plan variant suffix the 834 carries on the HIOS plan id (REF*CE).
    pub fn variant(self) -> &'static str {
        match self {
            Csr::None => "01",
            Csr::Csr73 => "04",
            Csr::Csr87 => "05",
            Csr::Csr94 => "06",
        }
    }
    pub fn for_pct(pct_fpl: f64) -> Self {
        if (100.0..150.0).contains(&pct_fpl) {
            Csr::Csr94
        } else if (150.0..200.0).contains(&pct_fpl) {
            Csr::Csr87
        } else if (200.0..250.0).contains(&pct_fpl) {
            Csr::Csr73
        } else {
            Csr::None
        }
    }
}

/// The household's estimate (the same for every person).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub pct_fpl: Option<f64>,
    /// Monthly advance premium tax credit, in cents.
    pub aptc_cents: u32,
    pub csr: Csr,
    pub medicaid: bool,
}

impl Estimate {
    pub const NONE: Estimate = Estimate {
        pct_fpl: None,
        aptc_cents: 0,
        csr: Csr::None,
        medicaid: false,
    };
}

/// Benchmark premium (second-lowest-cost silver plan in the county) for the household, in cents.
/// The tobacco surcharge is not part of the benchmark.
pub fn benchmark_cents(catalog: &Catalog, county: usize, people: &[Member]) -> u32 {
    let Some(c) = catalog.counties.get(county) else {
        return 0;
    };
    let plain: Vec<Member> = people
        .iter()
        .map(|m| Member {
            tobacco: false,
            ..*m
        })
        .collect();
    household_premium_cents(c.slcsp_base_cents, c.area_factor, &plain)
}

/// Estimate eligibility for a household with a yearly `income` in `county`.
pub fn estimate(
    catalog: &Catalog,
    county: usize,
    income: Option<f64>,
    people: &[Member],
    aptc_eligible: bool,
) -> Estimate {
    let Some(income) = income else {
        return Estimate::NONE;
    };
    let Some(c) = catalog.counties.get(county) else {
        return Estimate::NONE;
    };
    let expansion = catalog
        .states
        .get(c.state)
        .is_some_and(|s| s.medicaid_expansion);
    let pct = income / poverty_line(people.len()) * 100.0;
    if expansion && pct < 138.0 {
        return Estimate {
            pct_fpl: Some(pct),
            aptc_cents: 0,
            csr: Csr::None,
            medicaid: true,
        };
    }
    if !(100.0..=400.0).contains(&pct) || !aptc_eligible {
        // Below 100 % in a non-expansion state is the coverage gap; above 400 % there is no credit.
        return Estimate {
            pct_fpl: Some(pct),
            aptc_cents: 0,
            csr: Csr::None,
            medicaid: false,
        };
    }
    let contribution_cents = income * applicable_percentage(pct) / 100.0 / 12.0 * 100.0;
    let benchmark = f64::from(benchmark_cents(catalog, county, people));
    let aptc = (benchmark - contribution_cents).max(0.0).round() as u32;
    Estimate {
        pct_fpl: Some(pct),
        aptc_cents: aptc,
        csr: Csr::for_pct(pct),
        medicaid: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(age: u8) -> Vec<Member> {
        vec![Member {
            age,
            tobacco: false,
        }]
    }

    #[test]
    fn poverty_line_2013() {
        assert_eq!(poverty_line(1), 11_490.0);
        assert_eq!(poverty_line(4), 23_550.0);
    }

    #[test]
    fn applicable_percentages() {
        assert_eq!(applicable_percentage(120.0), 2.01);
        assert!((applicable_percentage(175.0) - 5.18).abs() < 1e-9);
        assert_eq!(applicable_percentage(350.0), 9.56);
    }

    #[test]
    fn medicaid_gap_credit_and_cliff() {
        let c = Catalog::build();
        let wake = c.county_by_fips("37183").unwrap(); // NC: no expansion
        let wayne = c.county_by_fips("26163").unwrap(); // MI: expansion
        let low = estimate(&c, wayne, Some(12_000.0), &one(34), true);
        assert!(low.medicaid && low.aptc_cents == 0);
        let gap = estimate(&c, wake, Some(9_000.0), &one(34), true);
        assert!(!gap.medicaid && gap.aptc_cents == 0);
        let mid = estimate(&c, wake, Some(23_000.0), &one(34), true);
        assert!(mid.aptc_cents > 0, "{mid:?}");
        assert_eq!(mid.csr, Csr::Csr73);
        let high = estimate(&c, wake, Some(50_000.0), &one(34), true);
        assert_eq!(high.aptc_cents, 0);
    }

    #[test]
    fn credit_is_benchmark_minus_contribution() {
        let c = Catalog::build();
        let wake = c.county_by_fips("37183").unwrap();
        let people = one(40);
        let e = estimate(&c, wake, Some(23_000.0), &people, true);
        let pct = 23_000.0 / 11_490.0 * 100.0;
        let expect = f64::from(benchmark_cents(&c, wake, &people))
            - 23_000.0 * applicable_percentage(pct) / 12.0;
        assert!((f64::from(e.aptc_cents) - expect).abs() <= 1.0);
    }
}

// ---------- route ----------

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::error::{ApiError, JsonBody};
use super::marketplace::{cents, Household, Place};
use super::state::AppState;

#[derive(Debug, Deserialize)]
pub struct EstimateRequest {
    pub household: Household,
    pub place: Place,
}

#[derive(Debug, Serialize)]
pub struct EstimateView {
    pub aptc: f64,
    pub csr: &'static str,
    pub hardship_exemption: bool,
    pub is_medicaid_chip: bool,
}

#[derive(Debug, Serialize)]
pub struct EstimatesResponse {
    pub estimates: Vec<EstimateView>,
}

/// `POST /api/v1/households/eligibility/estimates`
pub async fn estimates(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<EstimateRequest>,
) -> Result<Json<EstimatesResponse>, ApiError> {
    let ci = req.place.county(&state.catalog)?;
    let h = req.household.check()?;
    let e = estimate(&state.catalog, ci, h.income, &h.people, h.aptc_eligible);
    let estimates = h
        .people
        .iter()
        .map(|_| EstimateView {
            aptc: cents(e.aptc_cents),
            csr: e.csr.label(),
            hardship_exemption: false,
            is_medicaid_chip: e.medicaid,
        })
        .collect();
    Ok(Json(EstimatesResponse { estimates }))
}
