//! Deterministic fault choice and the count of faults injected.
//!
//! Whether fault `F` hits item `X` is `hash(seed, F, X) / 2^64 < share`, with a fixed hash
//! (FNV-1a over the fault's name, then splitmix64), never the process-random `DefaultHasher`: the
//! same seed and scenario fail the same enrollments the same way, run after run. Per-request
//! draws (error windows, service times) use the request's identity when surge sent one
//! ([`request_identity`]), so the same visits fail the same way whatever the timing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::http::HeaderMap;

use super::behaviour::InsurerFaults;
use crate::vocab::{REQUEST_HEADER, VISIT_HEADER};

/// Who is asking, when surge says (`X-Surge-Visit`, `X-Surge-Request`): a stable number for this
/// request of this visit, the same in every run of the same scenario, or `None` for any other
/// client (whose draws then follow arrival order).
pub fn request_identity(headers: &HeaderMap) -> Option<u64> {
    let number = |name: &str| headers.get(name)?.to_str().ok()?.parse::<u64>().ok();
    let visit = number(VISIT_HEADER)?;
    let request = number(REQUEST_HEADER)?;
    Some(splitmix64(splitmix64(visit) ^ request))
}

/// splitmix64's finaliser: a bijective, well-mixed hash of a `u64`.
pub fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a, 64 bits: a stable hash of a fault's name.
fn fnv1a(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A stable 64-bit hash of (seed, fault name, item).
pub fn hash(seed: u64, name: &str, item: u64) -> u64 {
    splitmix64(splitmix64(seed ^ fnv1a(name)) ^ item)
}

/// A number in `[0, 1)` drawn from (seed, fault name, item).
pub fn unit(seed: u64, name: &str, item: u64) -> f64 {
    (hash(seed, name, item) >> 11) as f64 / (1u64 << 53) as f64
}

/// Does fault `name` (with probability `share`) hit `item`?
pub fn hits(seed: u64, name: &str, item: u64, share: f64) -> bool {
    share > 0.0 && unit(seed, name, item) < share
}

/// Where the Pay Now form of an enrollment points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkFault {
    /// The insurer's real pay-now page.
    Working,
    /// A page the insurer does not have (404).
    Broken,
    /// A host where nothing listens (connection refused).
    Dead,
}

impl LinkFault {
    pub fn label(self) -> &'static str {
        match self {
            LinkFault::Working => "working",
            LinkFault::Broken => "broken",
            LinkFault::Dead => "dead",
        }
    }
}

/// One draw per enrollment against `broken_link` then `dead_link`: the two are exclusive.
pub fn link_fault(seed: u64, faults: Option<&InsurerFaults>, enrollment: u64) -> LinkFault {
    let Some(f) = faults else {
        return LinkFault::Working;
    };
    if f.broken_link + f.dead_link <= 0.0 {
        return LinkFault::Working;
    }
    let u = unit(seed, "pay_now_link", enrollment);
    if u < f.broken_link {
        LinkFault::Broken
    } else if u < f.broken_link + f.dead_link {
        LinkFault::Dead
    } else {
        LinkFault::Working
    }
}

/// What became of an enrollment's initial 834.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Defect834 {
    #[default]
    None,
    /// Never sent.
    Missing,
    /// Sent twice (two interchanges, distinct ISA13).
    Duplicate,
    /// Sent without its 2750 loops (no premium amounts).
    NoPremium,
    /// Sent to the next insurer of the catalog instead.
    WrongInsurer,
}

impl Defect834 {
    /// What became of the 834, as `GET /staging/enrollments` says it.
    pub fn label(self) -> &'static str {
        match self {
            Defect834::None => "sent",
            Defect834::Missing => "missing",
            Defect834::Duplicate => "duplicate",
            Defect834::NoPremium => "no_premium",
            Defect834::WrongInsurer => "wrong_insurer",
        }
    }
}

/// One draw per enrollment against `missing_834`, `duplicate_834`, `no_premium_834` and
/// `wrong_insurer_834`, in that order: the defects are exclusive (if their shares add up to more
/// than 1, the later ones get what is left).
pub fn defect_834(seed: u64, faults: Option<&InsurerFaults>, enrollment: u64) -> Defect834 {
    let Some(f) = faults else {
        return Defect834::None;
    };
    let u = unit(seed, "initial_834", enrollment);
    let mut edge = 0.0;
    for (share, defect) in [
        (f.missing_834, Defect834::Missing),
        (f.duplicate_834, Defect834::Duplicate),
        (f.no_premium_834, Defect834::NoPremium),
        (f.wrong_insurer_834, Defect834::WrongInsurer),
    ] {
        edge += share;
        if u < edge {
            return defect;
        }
    }
    Defect834::None
}

/// Kinds of fault counted in `exchange_faults_total{kind}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    BrokenLink,
    DeadLink,
    SamlRejected,
    PaymentFails,
    Missing834,
    Duplicate834,
    NoPremium834,
    WrongInsurer834,
    ErrorWindow,
    ErrorWindowDelay,
    CapacityQueueFull,
    CapacityQueueTimeout,
    WaitingRoom,
}

impl Kind {
    pub const ALL: [Kind; 13] = [
        Kind::BrokenLink,
        Kind::DeadLink,
        Kind::SamlRejected,
        Kind::PaymentFails,
        Kind::Missing834,
        Kind::Duplicate834,
        Kind::NoPremium834,
        Kind::WrongInsurer834,
        Kind::ErrorWindow,
        Kind::ErrorWindowDelay,
        Kind::CapacityQueueFull,
        Kind::CapacityQueueTimeout,
        Kind::WaitingRoom,
    ];

    /// The `kind` label.
    pub fn label(self) -> &'static str {
        match self {
            Kind::BrokenLink => "broken_link",
            Kind::DeadLink => "dead_link",
            Kind::SamlRejected => "saml_rejected",
            Kind::PaymentFails => "payment_fails",
            Kind::Missing834 => "missing_834",
            Kind::Duplicate834 => "duplicate_834",
            Kind::NoPremium834 => "no_premium_834",
            Kind::WrongInsurer834 => "wrong_insurer_834",
            Kind::ErrorWindow => "error_window",
            Kind::ErrorWindowDelay => "error_window_delay",
            Kind::CapacityQueueFull => "capacity_queue_full",
            Kind::CapacityQueueTimeout => "capacity_queue_timeout",
            Kind::WaitingRoom => "waiting_room",
        }
    }
}

/// Faults injected so far, by kind. A cheap handle on one set of counters: every part of the
/// exchange that injects faults (the handlers, capacity, error windows, the waiting room) holds a
/// clone and counts into the same set, which `/metrics` reports.
#[derive(Clone, Default)]
pub struct FaultCounters(Arc<[AtomicU64; Kind::ALL.len()]>);

impl FaultCounters {
    pub fn add(&self, kind: Kind) {
        self.0[kind as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self, kind: Kind) -> u64 {
        self.0[kind as usize].load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_stable_and_match_the_share() {
        assert_eq!(hash(7, "x", 1), hash(7, "x", 1));
        assert_ne!(hash(7, "x", 1), hash(8, "x", 1));
        assert_ne!(hash(7, "x", 1), hash(7, "y", 1));
        let n = 100_000;
        let hit = (0..n).filter(|&i| hits(3, "f", i, 0.2)).count() as f64 / n as f64;
        assert!((hit - 0.2).abs() < 0.01, "{hit}");
        assert!(!(0..1000).any(|i| hits(3, "f", i, 0.0)));
        assert!((0..1000).all(|i| hits(3, "f", i, 1.0)));
    }

    #[test]
    fn link_faults_are_exclusive() {
        let f = InsurerFaults {
            broken_link: 0.3,
            dead_link: 0.2,
            ..Default::default()
        };
        let n = 20_000;
        let (mut b, mut d) = (0, 0);
        for i in 0..n {
            match link_fault(1, Some(&f), i) {
                LinkFault::Broken => b += 1,
                LinkFault::Dead => d += 1,
                LinkFault::Working => {}
            }
        }
        assert!((b as f64 / n as f64 - 0.3).abs() < 0.02);
        assert!((d as f64 / n as f64 - 0.2).abs() < 0.02);
    }
}
