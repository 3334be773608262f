//! surge's own logger: errors only, on stderr.
//!
//! Goose logs every failed request at WARN on stdout; under a surge that is tens of thousands of
//! lines burying the summary, and surge already counts each failure by step and reason. Goose
//! installs its logger only if none is installed, so installing this one first quiets it.

use log::{LevelFilter, Log, Metadata, Record};

struct ErrorsToStderr;

impl Log for ErrorsToStderr {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::Level::Error
    }

    fn log(&self, record: &Record) {
        if self.enabled(record.metadata()) {
            eprintln!("error: {}: {}", record.target(), record.args());
        }
    }

    fn flush(&self) {}
}

static LOGGER: ErrorsToStderr = ErrorsToStderr;

/// Install the logger; harmless if one is installed already.
pub fn init() {
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(LevelFilter::Error);
    }
}
