//! `surge journey from-har FILE.har`: a browser's recording becomes a journey file.

use crate::cli::FromHarArgs;

use super::{Error, Outcome};

pub fn from_har(args: FromHarArgs) -> Result<Outcome, Error> {
    Err(Error::Usage(format!(
        "{}: converting a recording is not built yet",
        args.har.display()
    )))
}
