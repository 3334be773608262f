//! surge's own output: a logger (errors only, on stderr), and `say!`/`sayln!` for standard output.
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

/// Writes to standard output. A reader that has gone away (`surge check … | head`) ends the
/// printing, not the program: `println!` would panic on the broken pipe. Use `say!`/`sayln!`.
pub fn out(text: std::fmt::Arguments) {
    use std::io::Write;
    if let Err(e) = std::io::stdout().lock().write_fmt(text) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("surge: cannot write to standard output ({e})");
        }
    }
}

/// `print!`, quiet when the reader has gone away.
macro_rules! say {
    ($($arg:tt)*) => { $crate::logging::out(format_args!($($arg)*)) };
}

/// `println!`, quiet when the reader has gone away.
macro_rules! sayln {
    () => { $crate::logging::out(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::logging::out(format_args!("{}\n", format_args!($($arg)*))) };
}
