//! Reading the insurers' 834 inboxes, as the cracks reconciliation does after every run.
//!
//! `cargo bench --bench cracks` (harness = false). Builds one inbox of `BENCH_834S` interchanges
//! (default 20,000, about 40 MB: a morning's 834s for one insurer, or a staging exchange's history
//! of a few runs) from one interchange as the embedded exchange writes it
//! (`benches/support/one_834.x12`), each with its own ISA13 and `REF*1L`. Times
//! `InsurerRecords::add_inbox` on it `BENCH_ROUNDS` times (default 5), and as a baseline in the
//! same process a scan of the same text that only counts its segment terminators. Prints the
//! medians, MB/s, µs per 834 and the ratio read / scan, and one machine-readable line:
//! `RESULT {json}`.

use std::time::Instant;

use surge::cracks::{InsurerRecords, Matching};

const ONE_834: &str = include_str!("support/one_834.x12");

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `count` interchanges, the n-th with ISA13 and `REF*1L` numbered n.
fn inbox(count: usize) -> String {
    let mut text = String::with_capacity(count * (ONE_834.len() + 8));
    for n in 1..=count {
        text.push_str(
            &ONE_834
                .replace("*000000001*0*T*", &format!("*{n:09}*0*T*"))
                .replace("REF*1L*0000000000010", &format!("REF*1L*{n:013}")),
        );
    }
    text
}

fn median_s(rounds: usize, mut run: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..rounds)
        .map(|_| {
            let started = Instant::now();
            run();
            started.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() {
    let count = env_or("BENCH_834S", 20_000);
    let rounds = env_or("BENCH_ROUNDS", 5).max(1);
    let text = inbox(count);
    let mb = text.len() as f64 / 1e6;

    let scan = median_s(rounds, || {
        std::hint::black_box(text.bytes().filter(|&b| b == b'~').count());
    });
    let read = median_s(rounds, || {
        let mut records = InsurerRecords::new(Matching::default());
        records.add_inbox("11512", std::hint::black_box(&text));
        std::hint::black_box(records);
    });

    println!("inbox: {count} interchanges, {mb:.1} MB; medians of {rounds} rounds");
    println!("scan (count `~`): {:>8.1} ms", scan * 1e3);
    println!(
        "read (add_inbox):  {:>8.1} ms  {:.0} MB/s  {:.2} µs per 834  {:.1}x the scan",
        read * 1e3,
        mb / read,
        read * 1e6 / count as f64,
        read / scan
    );
    println!(
        "RESULT {}",
        serde_json::json!({
            "bench": "cracks",
            "interchanges": count,
            "mb": mb,
            "scan_ms": scan * 1e3,
            "read_ms": read * 1e3,
            "us_per_834": read * 1e6 / count as f64,
            "read_over_scan": read / scan,
        })
    );
}
