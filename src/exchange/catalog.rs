//! The deterministic catalog: states, counties, ZIPs, issuers, plans, premiums.

/// Every ZIP code the catalog serves (the harness's default household ZIPs).
pub fn zips() -> Vec<&'static str> {
    vec!["27601"]
}
