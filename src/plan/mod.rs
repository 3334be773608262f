//! The plan of a run, all from the scenario and its seed: when each visit is meant to arrive
//! ([`schedule`], shaped by a rate [`curve`]) and who the visitor is ([`visitors`]).

pub mod curve;
pub mod schedule;
pub mod visitors;

pub use curve::Curve;
pub use schedule::{Arrivals, Schedule};
pub use visitors::{Household, Person, Visit, VisitPlanner};
