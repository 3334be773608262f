//! The shards' per-visit files joined: `enrollments.csv` and `failures.csv` (one header, every
//! shard's rows), `exemplars.jsonl` (every shard's lines). Visit ids are the whole schedule's, so
//! rows never collide.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::rundir::RunDirError;

/// Write into `out` every shard's CSV file `name`: the header once, then each shard's records. A
/// shard without the file adds nothing.
pub fn join_csv(shards: &[PathBuf], name: &str, out: &Path) -> Result<(), RunDirError> {
    let path = out.join(name);
    let mut writer = csv::Writer::from_path(&path).map_err(|e| RunDirError::csv(&path, e))?;
    let mut header_written = false;
    for shard in shards {
        let source = shard.join(name);
        if !source.exists() {
            continue;
        }
        let mut reader =
            csv::Reader::from_path(&source).map_err(|e| RunDirError::csv(&source, e))?;
        if !header_written {
            let header = reader.headers().map_err(|e| RunDirError::csv(&source, e))?;
            writer
                .write_record(header)
                .map_err(|e| RunDirError::csv(&path, e))?;
            header_written = true;
        }
        for record in reader.records() {
            let record = record.map_err(|e| RunDirError::csv(&source, e))?;
            writer
                .write_record(&record)
                .map_err(|e| RunDirError::csv(&path, e))?;
        }
    }
    writer.flush().map_err(|e| RunDirError::write(&path, e))
}

/// Write into `out` every shard's lines of `name` (JSON Lines).
pub fn join_lines(shards: &[PathBuf], name: &str, out: &Path) -> Result<(), RunDirError> {
    let path = out.join(name);
    let file = std::fs::File::create(&path).map_err(|e| RunDirError::write(&path, e))?;
    let mut writer = BufWriter::new(file);
    for shard in shards {
        let source = shard.join(name);
        let file = match std::fs::File::open(&source) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(RunDirError::read(&source, e)),
        };
        for line in BufReader::new(file).lines() {
            let line = line.map_err(|e| RunDirError::read(&source, e))?;
            writeln!(writer, "{line}").map_err(|e| RunDirError::write(&path, e))?;
        }
    }
    writer.flush().map_err(|e| RunDirError::write(&path, e))
}
