//! `surge run --metrics-bind ADDR`: the run as Prometheus metrics, served at `/metrics` while it
//! goes. Every scrape reads the recorder's running totals — the numbers `summary.json` is made of
//! at the end — so the last scrape equals the summary, and nothing is counted twice on the hot path.
//! Labelled by scenario and shard, so one Prometheus server sums the shards of a run.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use hdrhistogram::Histogram;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use tokio::task::JoinHandle;

use crate::measure::Recorder;
use crate::vocab::{Stage, OUTCOME_CLASSES};

/// Upper bounds of the latency histograms' buckets, in seconds: 1 ms to 60 s, about three a decade.
const BUCKETS_S: [f64; 16] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0,
];

/// What the metrics are read from.
struct RunMetrics {
    recorder: Arc<Recorder>,
    planned: u64,
    /// Set once the run's files are written: the counters are final.
    finished: Arc<AtomicBool>,
}

impl std::fmt::Debug for RunMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RunMetrics {{ planned: {} }}", self.planned)
    }
}

/// The metrics endpoint of a run; it serves until [`MetricsServer::stop`].
pub struct MetricsServer {
    task: JoinHandle<()>,
    finished: Arc<AtomicBool>,
    pub addr: SocketAddr,
}

impl MetricsServer {
    /// Listen on `addr` and serve the recorder's totals at `/metrics` (OpenMetrics text).
    pub async fn start(
        addr: SocketAddr,
        recorder: Arc<Recorder>,
        planned: u64,
        scenario: &str,
        shard: &str,
    ) -> std::io::Result<MetricsServer> {
        let labels = [
            (Cow::Borrowed("scenario"), Cow::Owned(scenario.to_string())),
            (Cow::Borrowed("shard"), Cow::Owned(shard.to_string())),
        ];
        let mut registry = Registry::with_labels(labels.into_iter());
        let finished = Arc::new(AtomicBool::new(false));
        registry.register_collector(Box::new(RunMetrics {
            recorder,
            planned,
            finished: finished.clone(),
        }));
        let registry = Arc::new(registry);
        let app = axum::Router::new().route(
            "/metrics",
            get(move || {
                let registry = registry.clone();
                async move {
                    let mut body = String::new();
                    match prometheus_client::encoding::text::encode(&mut body, &registry) {
                        Ok(()) => (
                            [(
                                CONTENT_TYPE,
                                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                            )],
                            body,
                        ),
                        Err(_) => ([(CONTENT_TYPE, "text/plain")], String::new()),
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(MetricsServer {
            task,
            finished,
            addr,
        })
    }

    /// The run is over and its files written: `surge_run_finished` reads 1 from now on.
    pub fn finish(&self) {
        self.finished.store(true, Ordering::Relaxed);
    }

    pub fn stop(self) {
        self.task.abort();
    }
}

impl prometheus_client::collector::Collector for RunMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let snap = self.recorder.snapshot();
        let finished = self.finished.load(Ordering::Relaxed);
        let gauge = |encoder: &mut DescriptorEncoder, name: &str, help: &str, value: u64| {
            let metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            ConstGauge::new(value as i64).encode(metric)
        };
        let counter = |encoder: &mut DescriptorEncoder, name: &str, help: &str, value: u64| {
            let metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            ConstCounter::new(value).encode(metric)
        };
        gauge(
            &mut encoder,
            "surge_run_finished",
            "1 once the run is over and its files written: the counters are then final and equal \
             summary.json.",
            u64::from(finished),
        )?;
        gauge(
            &mut encoder,
            "surge_visits_planned",
            "Visits this run (shard) is to send.",
            self.planned,
        )?;
        counter(
            &mut encoder,
            "surge_visits_started",
            "Visits started.",
            snap.visits_started,
        )?;
        counter(
            &mut encoder,
            "surge_visits_late",
            "Visits that started later than late_after after their intended start.",
            snap.visits_late,
        )?;
        counter(
            &mut encoder,
            "surge_visits_completed",
            "Visits finished, whatever their outcome.",
            snap.visits_completed,
        )?;
        gauge(
            &mut encoder,
            "surge_visits_in_flight",
            "Visits under way (think time and waiting rooms included).",
            self.recorder.in_flight(),
        )?;

        let mut requests = encoder.encode_descriptor(
            "surge_requests",
            "HTTP requests by step and outcome class (2xx, 3xx, 4xx, 5xx, timeout, connect).",
            None,
            MetricType::Counter,
        )?;
        for step in &snap.steps {
            for (class, count) in OUTCOME_CLASSES.iter().zip(step.outcomes) {
                let labels = [("step", step.name.as_str()), ("outcome", class)];
                ConstCounter::new(count).encode(requests.encode_family(&labels)?)?;
            }
        }
        let mut failures = encoder.encode_descriptor(
            "surge_request_failures",
            "Requests the journey judged failed (status or body not as expected), by step.",
            None,
            MetricType::Counter,
        )?;
        for step in &snap.steps {
            let labels = [("step", step.name.as_str())];
            ConstCounter::new(step.failures).encode(failures.encode_family(&labels)?)?;
        }
        let mut funnel = encoder.encode_descriptor(
            "surge_funnel",
            "Visits that reached each stage of the funnel.",
            None,
            MetricType::Counter,
        )?;
        for stage in Stage::ALL {
            let labels = [("stage", stage.name())];
            ConstCounter::new(snap.funnel(stage)).encode(funnel.encode_family(&labels)?)?;
        }

        let mut latency = encoder.encode_descriptor(
            "surge_step_latency_seconds",
            "Latency of each step's requests.",
            None,
            MetricType::Histogram,
        )?;
        for step in &snap.steps {
            let labels = [("step", step.name.as_str())];
            encode_histogram(latency.encode_family(&labels)?, &step.latency)?;
        }
        let visit = encoder.encode_descriptor(
            "surge_visit_latency_seconds",
            "Whole visits, from their intended start to their outcome.",
            None,
            MetricType::Histogram,
        )?;
        encode_histogram(visit, &snap.visit_latency)?;
        let lateness = encoder.encode_descriptor(
            "surge_visit_lateness_seconds",
            "How late visits started after their intended start (the generator's own delay).",
            None,
            MetricType::Histogram,
        )?;
        encode_histogram(lateness, &snap.lateness)
    }
}

/// An HdrHistogram of microseconds as a Prometheus histogram in seconds: its counts per bucket.
fn encode_histogram(
    mut encoder: prometheus_client::encoding::MetricEncoder<'_>,
    histogram: &Histogram<u64>,
) -> Result<(), std::fmt::Error> {
    let mut buckets = Vec::with_capacity(BUCKETS_S.len() + 1);
    let mut below = 0;
    for bound in BUCKETS_S {
        let upto = histogram.count_between(0, (bound * 1e6) as u64);
        buckets.push((bound, upto - below));
        below = upto;
    }
    buckets.push((f64::INFINITY, histogram.len() - below));
    let sum = histogram.mean() * histogram.len() as f64 / 1e6;
    encoder.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
        sum,
        histogram.len(),
        &buckets,
        None,
    )
}
