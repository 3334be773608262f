//! Test data from a file: the households (and anything else) a real staging exchange knows, as CSV
//! rows fed to the visits. Which row a visit gets is decided by its id and the seed alone, so a
//! visit is the same applicant in every run; `unique` gives each visit a row of its own.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::visitors::{Household, Person};
use crate::scenario::DataOrder;

/// One CSV row: column name → value. Templates see it as `data`.
pub type Row = Arc<BTreeMap<String, String>>;

/// The rows of a data file, and the households they describe when they have a `zip` column.
#[derive(Debug, Clone)]
pub struct DataSet {
    pub path: PathBuf,
    pub order: DataOrder,
    rows: Vec<(Row, Option<Household>)>,
}

/// A data file that cannot be used: where, and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{}:{line}: {message}", path.display())]
pub struct DataError {
    pub path: PathBuf,
    pub line: u64,
    pub message: String,
}

impl DataSet {
    /// Read and check a CSV file with a header line. Household columns, all optional: `zip` (five
    /// digits), `income` (dollars a year), `ages` (`47;44;12`), `tobacco` (`y;n;n`, one per age).
    pub fn load(path: &Path, order: DataOrder) -> Result<DataSet, DataError> {
        let error = |line: u64, message: String| DataError {
            path: path.to_owned(),
            line,
            message,
        };
        let mut reader = csv::Reader::from_path(path).map_err(|e| error(0, e.to_string()))?;
        let headers = reader
            .headers()
            .map_err(|e| error(1, e.to_string()))?
            .clone();
        let mut rows = Vec::new();
        for record in reader.records() {
            let record =
                record.map_err(|e| error(e.position().map_or(0, |p| p.line()), e.to_string()))?;
            let line = record.position().map_or(0, |p| p.line());
            let row: BTreeMap<String, String> = headers
                .iter()
                .zip(record.iter())
                .map(|(h, v)| (h.trim().to_string(), v.trim().to_string()))
                .collect();
            let household = household(&row).map_err(|e| error(line, e.to_string()))?;
            rows.push((Arc::new(row), household));
        }
        if rows.is_empty() {
            return Err(error(1, "no rows after the header".into()));
        }
        Ok(DataSet {
            path: path.to_owned(),
            order,
            rows,
        })
    }

    pub fn len(&self) -> u64 {
        self.rows.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The row of visit `id`, or `None` when a `unique` feeder has run dry.
    pub fn row(&self, id: u64, seed: u64) -> Option<&(Row, Option<Household>)> {
        let n = self.len();
        let index = match self.order {
            DataOrder::Sequential => id % n,
            DataOrder::Unique if id >= n => return None,
            DataOrder::Unique => id,
            DataOrder::Random => {
                // A stream of its own, so the rows drawn do not change the visit's other draws.
                let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xda7a_da7a_da7a_da7a);
                rng.set_stream(id);
                rng.random_range(0..n)
            }
        };
        self.rows.get(index as usize)
    }
}

/// What is wrong with a row's household columns.
#[derive(Debug, thiserror::Error)]
enum HouseholdError {
    #[error("zip: `{0}` is not a five-digit ZIP code")]
    Zip(String),
    #[error("income: `{0}` is not whole dollars a year")]
    Income(String),
    #[error("ages: `{0}` is not an age (write them as 47;44;12)")]
    Age(String),
    #[error("tobacco: `{0}` is not y or n")]
    Tobacco(String),
    #[error("tobacco: {answers} answers for {people} people")]
    TobaccoCount { answers: usize, people: usize },
}

/// The household a row describes, if it has a `zip`.
fn household(row: &BTreeMap<String, String>) -> Result<Option<Household>, HouseholdError> {
    let Some(zip) = row.get("zip").filter(|z| !z.is_empty()) else {
        return Ok(None);
    };
    if zip.len() != 5 || !zip.chars().all(|c| c.is_ascii_digit()) {
        return Err(HouseholdError::Zip(zip.clone()));
    }
    let income = match row.get("income").filter(|v| !v.is_empty()) {
        None => 0,
        Some(v) => v
            .parse::<u32>()
            .map_err(|_| HouseholdError::Income(v.clone()))?,
    };
    let ages: Vec<u8> = match row.get("ages").filter(|v| !v.is_empty()) {
        None => vec![40],
        Some(list) => list
            .split(';')
            .map(|a| {
                a.trim()
                    .parse::<u8>()
                    .ok()
                    .filter(|a| *a <= 120)
                    .ok_or_else(|| HouseholdError::Age(a.to_string()))
            })
            .collect::<Result<_, _>>()?,
    };
    let tobacco: Vec<bool> = match row.get("tobacco").filter(|v| !v.is_empty()) {
        None => vec![false; ages.len()],
        Some(list) => list
            .split(';')
            .map(|t| match t.trim().to_ascii_lowercase().as_str() {
                "y" | "yes" | "true" => Ok(true),
                "n" | "no" | "false" => Ok(false),
                other => Err(HouseholdError::Tobacco(other.to_string())),
            })
            .collect::<Result<_, _>>()?,
    };
    if tobacco.len() != ages.len() {
        return Err(HouseholdError::TobaccoCount {
            answers: tobacco.len(),
            people: ages.len(),
        });
    }
    Ok(Some(Household {
        zip: zip.clone(),
        income,
        people: ages
            .into_iter()
            .zip(tobacco)
            .map(|(age, uses_tobacco)| Person { age, uses_tobacco })
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> PathBuf {
        let path =
            std::env::temp_dir().join(format!("surge-data-{}-{name}.csv", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path
    }

    const CONSUMERS: &str = "consumer_id,zip,income,ages,tobacco\n\
        C-1,27601,30000,47;44;12,n;y;n\nC-2,33101,52000,30,n\nC-3,28202,18000,61;59,n;n\n";

    #[test]
    fn rows_become_households_and_keep_every_column() {
        let path = write("ok", CONSUMERS);
        let data = DataSet::load(&path, DataOrder::Sequential).unwrap();
        let (row, household) = data.row(0, 1).unwrap();
        assert_eq!(row["consumer_id"], "C-1");
        let household = household.as_ref().unwrap();
        assert_eq!(household.zip, "27601");
        assert_eq!(household.people.len(), 3);
        assert!(household.people[1].uses_tobacco);
        assert_eq!(
            data.row(4, 1).unwrap().0["consumer_id"],
            "C-2",
            "sequential wraps"
        );
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn unique_runs_dry_and_random_is_the_same_for_the_same_seed() {
        let path = write("orders", CONSUMERS);
        let unique = DataSet::load(&path, DataOrder::Unique).unwrap();
        assert!(unique.row(2, 1).is_some());
        assert!(unique.row(3, 1).is_none());
        let random = DataSet::load(&path, DataOrder::Random).unwrap();
        let draw = |seed| {
            (0..50)
                .map(|id| random.row(id, seed).unwrap().0["consumer_id"].clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn a_bad_row_is_named_by_its_line() {
        let path = write("bad", "zip,ages\n27601,40\n2760,40\n");
        let err = DataSet::load(&path, DataOrder::Sequential).unwrap_err();
        assert_eq!(err.line, 3, "{err}");
        assert!(err.to_string().contains(":3: zip: `2760`"), "{err}");
        std::fs::remove_file(path).unwrap();
    }
}
