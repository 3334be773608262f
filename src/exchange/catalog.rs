//! The deterministic catalog: states, counties, ZIPs, issuers, plans, premiums.
//!
//! Everything is built from fixed tables and arithmetic, so every start serves the same catalog
//! (the harness and its saved runs can rely on plan ids and premiums staying put).

use std::collections::HashMap;

/// A state of the catalog.
#[derive(Debug)]
pub struct State {
    pub abbrev: &'static str,
    pub name: &'static str,
    /// Medicaid expansion in 2014: below 138 % FPL is Medicaid; otherwise below 100 % is the coverage gap.
    pub medicaid_expansion: bool,
}

/// A county with its ZIPs, rating area and the plans offered there.
#[derive(Debug)]
pub struct County {
    pub fips: &'static str,
    pub name: &'static str,
    pub city: &'static str,
    pub state: usize,
    pub zips: &'static [&'static str],
    pub rating_area: u8,
    pub area_factor: f64,
    /// Indices into `Catalog::plans`, cheapest base rate first.
    pub plans: Vec<u16>,
    /// Base rate (21-year-old, before the area factor) of the second-lowest-cost silver plan, in cents.
    pub slcsp_base_cents: u32,
}

/// An insurer (HIOS issuer).
#[derive(Debug)]
pub struct Issuer {
    pub id: &'static str,
    pub name: &'static str,
    pub short: &'static str,
    pub state: usize,
    pub toll_free: &'static str,
    pub tin: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metal {
    Catastrophic,
    Bronze,
    Silver,
    Gold,
    Platinum,
}

impl Metal {
    pub const ALL: [Metal; 5] = [
        Metal::Catastrophic,
        Metal::Bronze,
        Metal::Silver,
        Metal::Gold,
        Metal::Platinum,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Metal::Catastrophic => "Catastrophic",
            Metal::Bronze => "Bronze",
            Metal::Silver => "Silver",
            Metal::Gold => "Gold",
            Metal::Platinum => "Platinum",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanType {
    Hmo,
    Ppo,
    Epo,
    Pos,
}

impl PlanType {
    pub fn as_str(self) -> &'static str {
        match self {
            PlanType::Hmo => "HMO",
            PlanType::Ppo => "PPO",
            PlanType::Epo => "EPO",
            PlanType::Pos => "POS",
        }
    }
}

/// A qualified health plan.
#[derive(Debug)]
pub struct Plan {
    pub id: String,
    pub name: String,
    pub issuer: usize,
    pub state: usize,
    pub metal: Metal,
    pub kind: PlanType,
    /// Monthly premium for one 21-year-old non-smoker in a rating area with factor 1.0, in cents.
    pub base_cents: u32,
    pub deductible: u32,
    pub moop: u32,
    pub hsa_eligible: bool,
    /// Bit i set: offered in the i-th county of its state.
    pub county_mask: u8,
}

/// The federal default age rating curve (2014): ages 0–20 rate 0.635, 21 rates 1.000, 64 and over 3.000.
pub const AGE_CURVE: [f64; 65] = [
    0.635, 0.635, 0.635, 0.635, 0.635, 0.635, 0.635, 0.635, 0.635, 0.635, 0.635, 0.635, 0.635,
    0.635, 0.635, 0.635, 0.635, 0.635, 0.635, 0.635, 0.635, // 0-20
    1.000, 1.000, 1.000, 1.000, 1.004, 1.024, 1.048, 1.087, 1.119, // 21-29
    1.135, 1.159, 1.183, 1.198, 1.214, 1.222, 1.230, 1.238, 1.246, 1.262, // 30-39
    1.278, 1.302, 1.325, 1.357, 1.397, 1.444, 1.500, 1.563, 1.635, 1.706, // 40-49
    1.786, 1.865, 1.952, 2.040, 2.135, 2.230, 2.333, 2.437, 2.548, 2.603, // 50-59
    2.714, 2.810, 2.873, 2.952, 3.000, // 60-64
];

/// Age rating factor for an age in years.
pub fn age_factor(age: u32) -> f64 {
    AGE_CURVE[(age as usize).min(64)]
}

/// Tobacco users pay 20 % more.
pub const TOBACCO_FACTOR: f64 = 1.2;

/// A person to be rated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    pub age: u8,
    pub tobacco: bool,
}

/// Per-member rating factors (age × tobacco); children under 21 beyond the three oldest rate 0.
pub fn member_factors(people: &[Member], with_tobacco: bool) -> Vec<f64> {
    let mut children: Vec<(u8, usize)> = people
        .iter()
        .enumerate()
        .filter(|(_, m)| m.age < 21)
        .map(|(i, m)| (m.age, i))
        .collect();
    // Oldest first; stable on input order for equal ages.
    children.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let free: Vec<usize> = children.iter().skip(3).map(|&(_, i)| i).collect();
    people
        .iter()
        .enumerate()
        .map(|(i, m)| {
            if free.contains(&i) {
                0.0
            } else {
                let t = if with_tobacco && m.tobacco {
                    TOBACCO_FACTOR
                } else {
                    1.0
                };
                age_factor(u32::from(m.age)) * t
            }
        })
        .collect()
}

/// Monthly premium in cents of each member for a base rate and area factor.
pub fn member_premiums_cents(base_cents: u32, area_factor: f64, people: &[Member]) -> Vec<u32> {
    member_factors(people, true)
        .into_iter()
        .map(|f| (f64::from(base_cents) * area_factor * f).round() as u32)
        .collect()
}

/// Household monthly premium in cents (sum of the rounded member premiums).
pub fn household_premium_cents(base_cents: u32, area_factor: f64, people: &[Member]) -> u32 {
    member_premiums_cents(base_cents, area_factor, people)
        .iter()
        .sum()
}

struct CountySeed {
    fips: &'static str,
    name: &'static str,
    city: &'static str,
    state: &'static str,
    zips: &'static [&'static str],
    rating_area: u8,
    area_factor: f64,
}

const STATES: [(&str, &str, bool); 6] = [
    ("NC", "North Carolina", false),
    ("TX", "Texas", false),
    ("FL", "Florida", false),
    ("OH", "Ohio", true),
    ("MI", "Michigan", true),
    ("AZ", "Arizona", true),
];

const COUNTIES: [CountySeed; 18] = [
    CountySeed {
        fips: "37183",
        name: "Wake County",
        city: "RALEIGH",
        state: "NC",
        zips: &["27601", "27603", "27604"],
        rating_area: 4,
        area_factor: 1.00,
    },
    CountySeed {
        fips: "37119",
        name: "Mecklenburg County",
        city: "CHARLOTTE",
        state: "NC",
        zips: &["28202", "28203", "28205"],
        rating_area: 3,
        area_factor: 1.04,
    },
    CountySeed {
        fips: "37081",
        name: "Guilford County",
        city: "GREENSBORO",
        state: "NC",
        zips: &["27401", "27403"],
        rating_area: 2,
        area_factor: 0.97,
    },
    CountySeed {
        fips: "48201",
        name: "Harris County",
        city: "HOUSTON",
        state: "TX",
        zips: &["77002", "77003", "77004"],
        rating_area: 10,
        area_factor: 0.98,
    },
    CountySeed {
        fips: "48453",
        name: "Travis County",
        city: "AUSTIN",
        state: "TX",
        zips: &["78701", "78702", "78704"],
        rating_area: 7,
        area_factor: 1.03,
    },
    CountySeed {
        fips: "48113",
        name: "Dallas County",
        city: "DALLAS",
        state: "TX",
        zips: &["75201", "75202", "75204"],
        rating_area: 9,
        area_factor: 1.01,
    },
    CountySeed {
        fips: "12086",
        name: "Miami-Dade County",
        city: "MIAMI",
        state: "FL",
        zips: &["33101", "33125", "33130"],
        rating_area: 43,
        area_factor: 1.08,
    },
    CountySeed {
        fips: "12057",
        name: "Hillsborough County",
        city: "TAMPA",
        state: "FL",
        zips: &["33602", "33603", "33606"],
        rating_area: 29,
        area_factor: 0.99,
    },
    CountySeed {
        fips: "12095",
        name: "Orange County",
        city: "ORLANDO",
        state: "FL",
        zips: &["32801", "32803"],
        rating_area: 48,
        area_factor: 1.02,
    },
    CountySeed {
        fips: "39049",
        name: "Franklin County",
        city: "COLUMBUS",
        state: "OH",
        zips: &["43215", "43201", "43205"],
        rating_area: 5,
        area_factor: 0.96,
    },
    CountySeed {
        fips: "39035",
        name: "Cuyahoga County",
        city: "CLEVELAND",
        state: "OH",
        zips: &["44113", "44114", "44115"],
        rating_area: 8,
        area_factor: 1.02,
    },
    CountySeed {
        fips: "39061",
        name: "Hamilton County",
        city: "CINCINNATI",
        state: "OH",
        zips: &["45202", "45203"],
        rating_area: 1,
        area_factor: 0.99,
    },
    CountySeed {
        fips: "26163",
        name: "Wayne County",
        city: "DETROIT",
        state: "MI",
        zips: &["48201", "48202", "48226"],
        rating_area: 1,
        area_factor: 1.05,
    },
    CountySeed {
        fips: "26081",
        name: "Kent County",
        city: "GRAND RAPIDS",
        state: "MI",
        zips: &["49503", "49504"],
        rating_area: 12,
        area_factor: 0.93,
    },
    CountySeed {
        fips: "26161",
        name: "Washtenaw County",
        city: "ANN ARBOR",
        state: "MI",
        zips: &["48103", "48104"],
        rating_area: 2,
        area_factor: 1.00,
    },
    CountySeed {
        fips: "04013",
        name: "Maricopa County",
        city: "PHOENIX",
        state: "AZ",
        zips: &["85003", "85004", "85006"],
        rating_area: 4,
        area_factor: 0.94,
    },
    CountySeed {
        fips: "04019",
        name: "Pima County",
        city: "TUCSON",
        state: "AZ",
        zips: &["85701", "85705"],
        rating_area: 6,
        area_factor: 0.97,
    },
    CountySeed {
        fips: "04005",
        name: "Coconino County",
        city: "FLAGSTAFF",
        state: "AZ",
        zips: &["86001"],
        rating_area: 2,
        area_factor: 1.10,
    },
];

/// (HIOS id, name, short name, state, toll-free, TIN)
const ISSUERS: [(&str, &str, &str, &str, &str, &str); 12] = [
    (
        "11512",
        "Tar Heel Mutual Health Plan",
        "Tar Heel",
        "NC",
        "1-800-555-0111",
        "560894904",
    ),
    (
        "54332",
        "Carolina Cooperative Health",
        "Carolina Co-op",
        "NC",
        "1-800-555-0112",
        "461357902",
    ),
    (
        "33602",
        "Lone Star Health Alliance",
        "Lone Star",
        "TX",
        "1-800-555-0121",
        "741283945",
    ),
    (
        "27248",
        "Gulf Coast Care Plans",
        "Gulf Coast",
        "TX",
        "1-800-555-0122",
        "760459812",
    ),
    (
        "16842",
        "Sunshine Coast Health",
        "Sunshine",
        "FL",
        "1-800-555-0131",
        "591702234",
    ),
    (
        "21663",
        "Everglades Mutual Insurance",
        "Everglades",
        "FL",
        "1-800-555-0132",
        "650328871",
    ),
    (
        "29276",
        "Buckeye Benefit Health",
        "Buckeye",
        "OH",
        "1-800-555-0141",
        "311094455",
    ),
    (
        "36239",
        "Lake Erie Health Plan",
        "Lake Erie",
        "OH",
        "1-800-555-0142",
        "341920067",
    ),
    (
        "15560",
        "Great Lakes Health Mutual",
        "Great Lakes",
        "MI",
        "1-800-555-0151",
        "381360584",
    ),
    (
        "40047",
        "Peninsula Care Partners",
        "Peninsula",
        "MI",
        "1-800-555-0152",
        "452788310",
    ),
    (
        "53901",
        "Desert Sky Health",
        "Desert Sky",
        "AZ",
        "1-800-555-0161",
        "860513428",
    ),
    (
        "86830",
        "Saguaro Health Cooperative",
        "Saguaro",
        "AZ",
        "1-800-555-0162",
        "454021876",
    ),
];

/// How many plans of each metal level each issuer files (25 a issuer, 300 in all).
const METAL_MIX: [(Metal, u32); 5] = [
    (Metal::Catastrophic, 2),
    (Metal::Bronze, 6),
    (Metal::Silver, 8),
    (Metal::Gold, 6),
    (Metal::Platinum, 3),
];

/// The whole catalog, built once at start and shared read-only.
#[derive(Debug)]
pub struct Catalog {
    pub states: Vec<State>,
    pub counties: Vec<County>,
    pub issuers: Vec<Issuer>,
    pub plans: Vec<Plan>,
    /// (ZIP, county index), sorted by ZIP.
    zip_index: Vec<(&'static str, usize)>,
    county_by_fips: HashMap<&'static str, usize>,
    issuer_by_id: HashMap<&'static str, usize>,
    plan_by_id: HashMap<String, usize>,
}

impl Default for Catalog {
    fn default() -> Self {
        Self::build()
    }
}

impl Catalog {
    pub fn build() -> Self {
        let states: Vec<State> = STATES
            .iter()
            .map(|&(abbrev, name, medicaid_expansion)| State {
                abbrev,
                name,
                medicaid_expansion,
            })
            .collect();
        let state_idx = |abbrev: &str| states.iter().position(|s| s.abbrev == abbrev).unwrap_or(0);

        let mut counties: Vec<County> = COUNTIES
            .iter()
            .map(|c| County {
                fips: c.fips,
                name: c.name,
                city: c.city,
                state: state_idx(c.state),
                zips: c.zips,
                rating_area: c.rating_area,
                area_factor: c.area_factor,
                plans: Vec::new(),
                slcsp_base_cents: 0,
            })
            .collect();

        let issuers: Vec<Issuer> = ISSUERS
            .iter()
            .map(|&(id, name, short, st, toll_free, tin)| Issuer {
                id,
                name,
                short,
                state: state_idx(st),
                toll_free,
                tin,
            })
            .collect();

        let mut plans = Vec::new();
        for (ii, issuer) in issuers.iter().enumerate() {
            let abbrev = states[issuer.state].abbrev;
            // Issuers differ by a few dollars, states by a few percent: fixed arithmetic, no randomness.
            let issuer_adj = ((ii as u32 * 7) % 11) * 150;
            let state_pct = 95 + (issuer.state as u32 * 3) % 10;
            let mut k = 0u32;
            for &(metal, n) in &METAL_MIX {
                for j in 0..n {
                    let kind = [PlanType::Hmo, PlanType::Ppo, PlanType::Epo, PlanType::Pos]
                        [(k as usize + ii) % 4];
                    let (metal_base, deductible, moop) = match metal {
                        Metal::Catastrophic => (14_000, 6_350, 6_350),
                        Metal::Bronze => (18_500, 6_300 - j * 300, 6_350),
                        Metal::Silver => (23_500, 3_500 - j * 250, 6_350 - j * 200),
                        Metal::Gold => (28_000, 1_500 - j * 200, 5_000 - j * 300),
                        Metal::Platinum => (33_000, 500 - j * 150, 2_500 - j * 200),
                    };
                    let base_cents =
                        (metal_base + issuer_adj + j * 900 + (k * 37) % 500) * state_pct / 100;
                    let product = ((kind as u32) + 1) * 10;
                    let id = format!("{}{}{:03}{:04}", issuer.id, abbrev, product, k + 1);
                    let name = format!(
                        "{} {} {} {}",
                        issuer.short,
                        metal.as_str(),
                        kind.as_str(),
                        deductible
                    );
                    // Most plans are offered in every county of the state; some skip one county.
                    let mut county_mask = 0u8;
                    for (ci, _) in counties
                        .iter()
                        .filter(|c| c.state == issuer.state)
                        .enumerate()
                    {
                        if (k + ci as u32) % 7 != 3 {
                            county_mask |= 1 << ci;
                        }
                    }
                    plans.push(Plan {
                        id,
                        name,
                        issuer: ii,
                        state: issuer.state,
                        metal,
                        kind,
                        base_cents,
                        deductible,
                        moop: moop.max(deductible),
                        hsa_eligible: metal == Metal::Bronze && j % 2 == 0,
                        county_mask,
                    });
                    k += 1;
                }
            }
        }

        // Index plans by county, cheapest first, and find each county's benchmark silver plan.
        let mut nth_in_state = vec![0usize; counties.len()];
        for s in 0..states.len() {
            for (n, ci) in (0..counties.len())
                .filter(|&ci| counties[ci].state == s)
                .enumerate()
            {
                nth_in_state[ci] = n;
            }
        }
        for (ci, county) in counties.iter_mut().enumerate() {
            let mut offered: Vec<u16> = plans
                .iter()
                .enumerate()
                .filter(|(_, p)| {
                    p.state == county.state && p.county_mask & (1 << nth_in_state[ci]) != 0
                })
                .map(|(pi, _)| pi as u16)
                .collect();
            offered.sort_by_key(|&pi| (plans[pi as usize].base_cents, pi));
            let silver: Vec<u32> = offered
                .iter()
                .map(|&pi| &plans[pi as usize])
                .filter(|p| p.metal == Metal::Silver)
                .map(|p| p.base_cents)
                .collect();
            county.slcsp_base_cents = silver.get(1).or(silver.first()).copied().unwrap_or(0);
            county.plans = offered;
        }

        let mut zip_index: Vec<(&'static str, usize)> = counties
            .iter()
            .enumerate()
            .flat_map(|(ci, c)| c.zips.iter().map(move |z| (*z, ci)))
            .collect();
        zip_index.sort();
        let county_by_fips = counties
            .iter()
            .enumerate()
            .map(|(i, c)| (c.fips, i))
            .collect();
        let issuer_by_id = issuers.iter().enumerate().map(|(i, c)| (c.id, i)).collect();
        let plan_by_id = plans
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.clone(), i))
            .collect();
        Self {
            states,
            counties,
            issuers,
            plans,
            zip_index,
            county_by_fips,
            issuer_by_id,
            plan_by_id,
        }
    }

    /// Counties whose ZIP starts with `prefix` (a full ZIP or a 1–4 digit prefix), as (ZIP, county index).
    pub fn counties_by_zip<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'static str, usize)> + 'a {
        let start = self.zip_index.partition_point(|(z, _)| *z < prefix);
        self.zip_index[start..]
            .iter()
            .take_while(move |(z, _)| z.starts_with(prefix))
            .copied()
    }

    pub fn county_by_fips(&self, fips: &str) -> Option<usize> {
        self.county_by_fips.get(fips).copied()
    }

    pub fn issuer_by_id(&self, id: &str) -> Option<usize> {
        self.issuer_by_id.get(id).copied()
    }

    pub fn plan_by_id(&self, id: &str) -> Option<usize> {
        self.plan_by_id.get(id).copied()
    }

    /// Whether plan `pi` is offered in county `ci`.
    pub fn offered_in(&self, pi: usize, ci: usize) -> bool {
        self.counties
            .get(ci)
            .is_some_and(|c| c.plans.contains(&(pi as u16)))
    }
}

/// Whether `id` has the HIOS plan id shape `^[0-9]{5}[A-Z]{2}[0-9]{7}$`.
pub fn is_plan_id(id: &str) -> bool {
    let b = id.as_bytes();
    b.len() == 14
        && b[..5].iter().all(u8::is_ascii_digit)
        && b[5..7].iter().all(u8::is_ascii_uppercase)
        && b[7..].iter().all(u8::is_ascii_digit)
}

/// Every ZIP code the catalog serves (the harness's default household ZIPs).
pub fn zips() -> Vec<&'static str> {
    COUNTIES
        .iter()
        .flat_map(|c| c.zips.iter().copied())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_is_well_formed() {
        let c = Catalog::build();
        assert_eq!(c.plans.len(), 300);
        assert!(c.plans.iter().all(|p| is_plan_id(&p.id)));
        assert_eq!(c.plan_by_id.len(), c.plans.len(), "plan ids are unique");
        for z in zips() {
            let found: Vec<_> = c.counties_by_zip(z).collect();
            assert!(!found.is_empty(), "{z}");
            for (_, ci) in found {
                assert!(c.counties[ci].plans.len() >= 20, "{z}");
                assert!(c.counties[ci].slcsp_base_cents > 0);
            }
        }
    }

    #[test]
    fn same_catalog_every_time() {
        let a = Catalog::build();
        let b = Catalog::build();
        assert!(a
            .plans
            .iter()
            .zip(&b.plans)
            .all(|(x, y)| x.id == y.id && x.base_cents == y.base_cents));
    }

    #[test]
    fn children_beyond_three_are_free() {
        let kid = |age| Member {
            age,
            tobacco: false,
        };
        let f = member_factors(&[kid(40), kid(5), kid(10), kid(15), kid(2)], false);
        assert_eq!(f[4], 0.0);
        assert_eq!(f[1], 0.635);
        assert_eq!(age_factor(21), 1.0);
        assert_eq!(age_factor(90), 3.0);
    }
}
