//! `surge journey from-har FILE.har`: a browser's recording becomes a journey file, written to
//! `-o FILE` or standard output; what was made of it (requests kept, captures, the variables to
//! set) goes to standard error, so the file can be piped.

use crate::cli::FromHarArgs;
use crate::recording::{self, Options};

use super::{Error, Outcome};

pub fn from_har(args: FromHarArgs) -> Result<Outcome, Error> {
    let options = Options {
        base_url: args.base_url,
        keep_assets: args.keep_assets,
    };
    let conversion = recording::convert(&args.har, &options)?;
    let written_to = match &args.output {
        Some(path) => {
            std::fs::write(path, &conversion.text).map_err(|source| Error::Write {
                path: path.clone(),
                source,
            })?;
            path.display().to_string()
        }
        None => {
            print!("{}", conversion.text);
            "standard output".to_string()
        }
    };
    let variables = if conversion.variables.is_empty() {
        "no secrets".to_string()
    } else {
        format!(
            "secrets read from {} (set them before surge check)",
            conversion.variables.join(", ")
        )
    };
    eprintln!(
        "surge: {}: journey `{}` of {} requests (of {} recorded), {} captures, {variables} → {written_to}",
        args.har.display(),
        conversion.journey,
        conversion.requests,
        conversion.entries,
        conversion.captures,
    );
    Ok(Outcome::Done)
}
