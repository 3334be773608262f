//! The five charts, each drawn once for SVG and once for PNG (same code, two plotters backends).
//!
//! Colours are the Okabe–Ito palette, distinguishable with the common colour-vision deficiencies.
//! PNG text uses DejaVu Sans compiled into the binary, so PNGs render the same on a bare machine.

use std::path::Path;
use std::sync::Once;

use plotters::chart::DualCoordChartContext;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use super::axis::{clock_ticks, number, short_name};
use super::data::RunData;
use crate::histogram::percentile;
use crate::rundir::hlog::VISIT_TAG;
use crate::units::{format_clock, parse_clock};
use crate::vocab::Stage;

pub const ORANGE: RGBColor = RGBColor(230, 159, 0);
pub const SKY: RGBColor = RGBColor(86, 180, 233);
pub const GREEN: RGBColor = RGBColor(0, 158, 115);
pub const YELLOW: RGBColor = RGBColor(240, 228, 66);
pub const BLUE: RGBColor = RGBColor(0, 114, 178);
pub const VERMILLION: RGBColor = RGBColor(213, 94, 0);
pub const PURPLE: RGBColor = RGBColor(204, 121, 167);
pub const GREY: RGBColor = RGBColor(150, 150, 150);

/// One colour per step, and one for whole visits.
/// Steps take these in turn (a journey file with more steps reuses them); whole visits are black.
const STEP_COLOURS: [RGBColor; 6] = [BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY];

pub(crate) const FONT: &str = "sans-serif";

/// A verdict's `metric` for the error rate of all steps: its limit is drawn on the requests chart.
const ALL_STEPS_ERROR_RATE: &str = "error_rate";

/// The charts' file stems, in the order the report shows them.
pub const CHARTS: [(&str, &str); 5] = [
    ("latency-percentiles", "Latency percentile distribution"),
    ("latency-over-time", "Latency over time"),
    ("throughput-errors", "Throughput and errors over time"),
    ("arrivals", "Arrivals: intended and started"),
    ("funnel", "Enrollment funnel"),
];

/// A chart that could not be drawn: plotters' errors are generic over the backend, so the
/// message is kept.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ChartError(String);

type Drawn = Result<(), ChartError>;

pub(crate) fn err<E: std::fmt::Display>(e: E) -> ChartError {
    ChartError(e.to_string())
}

/// A chart that can be drawn on any plotters backend.
trait Chart {
    fn size(&self) -> (u32, u32) {
        (1200, 700)
    }
    fn draw<DB: DrawingBackend>(&self, data: &RunData, root: &DrawingArea<DB, Shift>) -> Drawn;
}

/// Draw every chart as `charts/<name>.svg` and `charts/<name>.png`.
pub fn draw_all(data: &RunData, charts_dir: &Path) -> Drawn {
    register_fonts();
    std::fs::create_dir_all(charts_dir).map_err(creating(charts_dir))?;
    both(data, charts_dir, CHARTS[0].0, &PercentileChart)?;
    both(data, charts_dir, CHARTS[1].0, &LatencyOverTime)?;
    both(data, charts_dir, CHARTS[2].0, &ThroughputErrors)?;
    both(data, charts_dir, CHARTS[3].0, &ArrivalsChart)?;
    both(data, charts_dir, CHARTS[4].0, &FunnelChart)
}

fn both(data: &RunData, dir: &Path, name: &str, chart: &impl Chart) -> Drawn {
    let size = chart.size();
    let svg = dir.join(format!("{name}.svg"));
    {
        let root = SVGBackend::new(&svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        chart.draw(data, &root)?;
        root.present().map_err(writing(&svg))?;
    }
    let png = dir.join(format!("{name}.png"));
    let root = BitMapBackend::new(&png, size).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    chart.draw(data, &root)?;
    root.present().map_err(writing(&png))
}

/// Writing is where a chart fails (a full disk): the message names the file.
pub(crate) fn writing<E: std::fmt::Display>(path: &Path) -> impl Fn(E) -> ChartError + '_ {
    move |e| ChartError(format!("cannot write {}: {e}", path.display()))
}

/// The charts' directory could not be made: the message names it.
pub(crate) fn creating<E: std::fmt::Display>(dir: &Path) -> impl Fn(E) -> ChartError + '_ {
    move |e| ChartError(format!("cannot create {}: {e}", dir.display()))
}

pub(crate) fn register_fonts() {
    static FONTS: Once = Once::new();
    FONTS.call_once(|| {
        // The bytes are a valid font compiled in; registering cannot fail.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
        let _ = plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
    });
}

fn title(data: &RunData, what: &str) -> String {
    let s = &data.summary;
    format!(
        "{what} — {} ({}, seed {})",
        s.scenario, s.started_at, s.seed
    )
}

/// Clock tick labels: `HH:MM`, or `HH:MM:SS` when the run spans less than ten minutes of clock.
fn clock_labels(data: &RunData) -> impl Fn(&f64) -> String {
    let (start, end) = data.clock_range();
    let seconds = end - start < 600.0;
    move |clock: &f64| {
        let text = format_clock(*clock);
        if seconds {
            text
        } else {
            text[..5].to_string()
        }
    }
}

/// The clock axis, ticked on round times (00:00, 02:00, … for a morning). plotters' own ticks for
/// a range of seconds fall on round numbers of seconds (02:46 is 10,000 s).
struct ClockAxis {
    seconds: std::ops::Range<f64>,
    ticks: Vec<f64>,
}

impl Ranged for ClockAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let Self { seconds, .. } = self;
        let share = (value - seconds.start) / (seconds.end - seconds.start);
        limit.0 + (share * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        match hint.max_num_points() {
            0 => Vec::new(),
            _ => self.ticks.clone(),
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.seconds.clone()
    }
}

fn clock_axis_range(data: &RunData) -> ClockAxis {
    let (start, end) = data.clock_range();
    ClockAxis {
        seconds: start..end,
        ticks: clock_ticks(start, end, 8),
    }
}

/// The x axis description: the scenario clock, and the run time it spans.
fn clock_axis(data: &RunData) -> String {
    let end = data.points.last().map_or(0.0, |p| p.elapsed_s);
    format!(
        "scenario clock (run time 0–{end:.0} s at {}×)",
        data.summary.time_scale
    )
}

/// Every chart's legend: a framed, mostly opaque box at `position`.
pub(crate) fn legend<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    mut labels: plotters::chart::SeriesLabelStyle<'a, '_, DB, CT>,
    position: SeriesLabelPosition,
    font_size: u32,
) -> Drawn {
    labels
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FONT, font_size))
        .draw()
        .map_err(err)
}

/// The spike windows of `step` (every step's: `None`), as scenario-clock seconds.
fn spike_windows(data: &RunData, step: Option<&str>) -> Vec<(f64, f64)> {
    data.summary
        .spikes
        .iter()
        .filter(|s| step.is_none_or(|step| s.step == step))
        .filter_map(|s| Some((parse_clock(&s.start).ok()?, parse_clock(&s.end).ok()?)))
        .collect()
}

/// Shade `windows` behind what is drawn next, in the secondary coordinates (clock seconds, y up to
/// `top`), each named "spike".
fn shade_spikes<DB: DrawingBackend, X: Ranged, Y: Ranged>(
    chart: &mut DualCoordChartContext<
        '_,
        DB,
        Cartesian2d<X, Y>,
        Cartesian2d<RangedCoordf64, RangedCoordf64>,
    >,
    windows: &[(f64, f64)],
    top: f64,
) -> Drawn {
    for &(start, end) in windows {
        chart
            .draw_secondary_series([Rectangle::new(
                [(start, 0.0), (end, top)],
                VERMILLION.mix(0.12).filled(),
            )])
            .map_err(err)?;
        chart
            .draw_secondary_series([Text::new(
                "spike",
                (start, top * 0.97),
                (FONT, 12).into_font().color(&VERMILLION),
            )])
            .map_err(err)?;
    }
    Ok(())
}

pub(crate) fn legend_line(colour: RGBColor) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(3))
}

/// The run's knee on the scenario clock (seconds since midnight) and its label: `knee 08:31`, or
/// `knee 00:00:42` on a run of less than ten minutes of clock.
fn knee_mark(data: &RunData) -> Option<(f64, String)> {
    let knee = data.summary.knee.as_ref()?;
    let clock = parse_clock(&knee.clock).ok()?;
    Some((clock, format!("knee {}", clock_labels(data)(&clock))))
}

type KneeLine = DashedLineSeries<std::array::IntoIter<(f64, f64), 2>, u32>;
type KneeLabel = Text<'static, (f64, f64), String>;

/// A vertical dashed line at the knee, from 0 to `top`, labelled near the top: `(line, label)`, to
/// draw in coordinates whose x is the scenario clock.
fn knee_line(data: &RunData, top: f64) -> Option<(KneeLine, KneeLabel)> {
    let (clock, label) = knee_mark(data)?;
    let (start, end) = data.clock_range();
    let line = DashedLineSeries::new([(clock, 0.0), (clock, top)], 8u32, 5, BLACK.stroke_width(2));
    let text = Text::new(
        label,
        (clock + (end - start) * 0.005, top * 0.93),
        (FONT, 13).into_font().color(&BLACK),
    );
    Some((line, text))
}

struct PercentileChart;

impl Chart for PercentileChart {
    fn draw<DB: DrawingBackend>(&self, data: &RunData, root: &DrawingArea<DB, Shift>) -> Drawn {
        // x = log10(1 / (1 - q)): 1 is 90%, 2 is 99%, 3 is 99.9%, 4 is 99.99%.
        let mut series = Vec::new();
        let mut top: f64 = 1.0;
        let mut bottom: f64 = f64::MAX;
        let steps = data.summary.step_names();
        let colours = STEP_COLOURS
            .iter()
            .cycle()
            .take(steps.len())
            .chain([&BLACK]);
        for (tag, colour) in steps.iter().chain([&VISIT_TAG]).zip(colours) {
            let Some(histogram) = data.totals.get(*tag).filter(|h| !h.is_empty()) else {
                continue;
            };
            let points: Vec<(f64, f64)> = [
                0.0f64, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 97.5, 99.0, 99.5, 99.9, 99.95, 99.99,
            ]
            .iter()
            .map(|p| {
                let x = (1.0 / (1.0 - p / 100.0)).log10();
                (x, percentile(histogram, *p) as f64 / 1000.0)
            })
            .collect();
            top = points.iter().map(|p| p.1).fold(top, f64::max);
            bottom = points
                .iter()
                .map(|p| p.1)
                .filter(|v| *v > 0.0)
                .fold(bottom, f64::min);
            series.push((*tag, *colour, points));
        }
        let mut chart = ChartBuilder::on(root)
            .caption(title(data, "Latency by percentile"), (FONT, 22))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..4.0, ((bottom.min(top) * 0.8)..top * 1.25).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .y_label_formatter(&number)
            .x_desc("percentile")
            .y_desc("latency (ms, log scale)")
            .x_labels(5)
            .x_label_formatter(&|x| {
                let p = 100.0 * (1.0 - 10f64.powf(-x));
                format!("{}%", (p * 100.0).round() / 100.0)
            })
            .label_style((FONT, 14))
            .draw()
            .map_err(err)?;
        // The median sits between the 0% and 90% ticks: mark it.
        let median = 2f64.log10();
        chart
            .draw_series(DashedLineSeries::new(
                [(median, bottom.min(top) * 0.8), (median, top * 1.25)],
                4,
                4,
                GREY.stroke_width(1),
            ))
            .map_err(err)?;
        chart
            .draw_series([Text::new(
                "50%",
                (median + 0.02, bottom.min(top) * 0.9),
                (FONT, 13).into_font(),
            )])
            .map_err(err)?;
        for (tag, colour, points) in series {
            chart
                .draw_series(LineSeries::new(points, colour.stroke_width(2)))
                .map_err(err)?
                .label(tag)
                .legend(legend_line(colour));
        }
        legend(
            chart.configure_series_labels(),
            SeriesLabelPosition::UpperLeft,
            14,
        )
    }
}

struct LatencyOverTime;

impl Chart for LatencyOverTime {
    fn size(&self) -> (u32, u32) {
        (1400, 900)
    }

    fn draw<DB: DrawingBackend>(&self, data: &RunData, root: &DrawingArea<DB, Shift>) -> Drawn {
        let (clock_start, clock_end) = data.clock_range();
        let titled = root
            .titled(
                &format!(
                    "{}; x: {}",
                    title(data, "Latency over time (p50, p95, p99), arrivals behind"),
                    clock_axis(data)
                ),
                (FONT, 18),
            )
            .map_err(err)?;
        let steps = data.summary.step_names();
        // Two panels a row, as many rows as the journey file has steps for.
        let panels = titled.split_evenly((steps.len().div_ceil(2).max(1), 2));
        let peak_rate = data
            .points
            .iter()
            .map(|p| p.started as f64 / p.seconds)
            .fold(1.0, f64::max);
        for (index, (step, panel)) in steps.iter().zip(panels.iter()).enumerate() {
            let series: Vec<(f64, [f64; 3])> = data
                .clocked()
                .filter_map(|(c, p)| p.step_percentiles[index].map(|v| (c, v)))
                .collect();
            let top = series.iter().map(|(_, v)| v[2]).fold(1.0, f64::max) * 1.1;
            let mut chart = ChartBuilder::on(panel)
                .caption(*step, (FONT, 18))
                .margin(8)
                .x_label_area_size(30)
                .y_label_area_size(55)
                .right_y_label_area_size(55)
                .build_cartesian_2d(clock_axis_range(data), 0.0..top)
                .map_err(err)?
                .set_secondary_coord(clock_start..clock_end, 0.0..peak_rate * 1.1);
            chart
                .configure_mesh()
                .y_label_formatter(&number)
                .y_desc("ms")
                .x_labels(6)
                .x_label_formatter(&clock_labels(data))
                .label_style((FONT, 12))
                .draw()
                .map_err(err)?;
            chart
                .configure_secondary_axes()
                .y_label_formatter(&number)
                .y_desc("arrivals/s")
                .label_style((FONT, 12))
                .draw()
                .map_err(err)?;
            shade_spikes(
                &mut chart,
                &spike_windows(data, Some(step)),
                peak_rate * 1.1,
            )?;
            if let Some((line, text)) = knee_line(data, peak_rate * 1.1) {
                chart.draw_secondary_series(line).map_err(err)?;
                chart.draw_secondary_series([text]).map_err(err)?;
            }
            chart
                .draw_secondary_series(AreaSeries::new(
                    data.clocked()
                        .map(|(c, p)| (c, p.started as f64 / p.seconds)),
                    0.0,
                    GREY.mix(0.25),
                ))
                .map_err(err)?
                .label("arrivals/s")
                .legend(|(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 20, y + 5)], GREY.mix(0.4).filled())
                });
            for (k, (name, colour)) in [("p50", GREEN), ("p95", ORANGE), ("p99", VERMILLION)]
                .iter()
                .enumerate()
            {
                chart
                    .draw_series(LineSeries::new(
                        series.iter().map(|(c, v)| (*c, v[k])),
                        colour.stroke_width(2),
                    ))
                    .map_err(err)?
                    .label(*name)
                    .legend(legend_line(*colour));
            }
            if index == 0 {
                legend(
                    chart.configure_series_labels(),
                    SeriesLabelPosition::UpperLeft,
                    12,
                )?;
            }
        }
        Ok(())
    }
}

struct ThroughputErrors;

impl Chart for ThroughputErrors {
    fn draw<DB: DrawingBackend>(&self, data: &RunData, root: &DrawingArea<DB, Shift>) -> Drawn {
        let (clock_start, clock_end) = data.clock_range();
        // Stacked per second: success, wrong answers with a 2xx/3xx, 4xx, 5xx, timeouts, connection errors.
        let layers: Vec<(f64, [f64; 6])> = data
            .clocked()
            .map(|(c, p)| {
                let transport = p.outcomes[2] + p.outcomes[3] + p.outcomes[4] + p.outcomes[5];
                let wrong_body = p.failures.saturating_sub(transport);
                let ok = p.requests.saturating_sub(p.failures);
                let per_s = |n: u64| n as f64 / p.seconds;
                (
                    c,
                    [
                        per_s(ok),
                        per_s(wrong_body),
                        per_s(p.outcomes[2]),
                        per_s(p.outcomes[3]),
                        per_s(p.outcomes[4]),
                        per_s(p.outcomes[5]),
                    ],
                )
            })
            .collect();
        let top = layers
            .iter()
            .map(|(_, l)| l.iter().sum::<f64>())
            .fold(1.0, f64::max)
            * 1.1;
        let error_rates: Vec<(f64, f64)> = data
            .clocked()
            .filter(|(_, p)| p.requests > 0)
            .map(|(c, p)| (c, 100.0 * p.failures as f64 / p.requests as f64))
            .collect();
        let limits: Vec<(String, f64)> = data
            .summary
            .thresholds
            .iter()
            .filter(|v| v.metric == ALL_STEPS_ERROR_RATE)
            .filter_map(|v| Some((v.name.clone(), v.limit_value? * 100.0)))
            .collect();
        let rate_top = error_rates
            .iter()
            .map(|p| p.1)
            .chain(limits.iter().map(|l| l.1))
            .fold(1.0, f64::max)
            * 1.2;
        let mut chart = ChartBuilder::on(root)
            .caption(
                title(data, "Requests per second by outcome, and error rate"),
                (FONT, 22),
            )
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .right_y_label_area_size(60)
            .build_cartesian_2d(clock_axis_range(data), 0.0..top)
            .map_err(err)?
            .set_secondary_coord(clock_start..clock_end, 0.0..rate_top);
        chart
            .configure_mesh()
            .y_label_formatter(&number)
            .x_desc(clock_axis(data))
            .y_desc("requests per second")
            .x_label_formatter(&clock_labels(data))
            .label_style((FONT, 14))
            .draw()
            .map_err(err)?;
        chart
            .configure_secondary_axes()
            .y_label_formatter(&number)
            .y_desc("error rate (%)")
            .label_style((FONT, 14))
            .draw()
            .map_err(err)?;
        let names = [
            "success",
            "wrong answer (2xx/3xx)",
            "4xx",
            "5xx",
            "timeout",
            "connection error",
        ];
        let colours = [SKY, PURPLE, YELLOW, VERMILLION, ORANGE, BLACK];
        shade_spikes(&mut chart, &spike_windows(data, None), rate_top)?;
        // Draw the stacks from the top layer down so each band shows.
        for layer in (0..6).rev() {
            let colour = colours[layer];
            chart
                .draw_series(AreaSeries::new(
                    layers
                        .iter()
                        .map(|(c, l)| (*c, l[..=layer].iter().sum::<f64>())),
                    0.0,
                    colour.mix(0.8),
                ))
                .map_err(err)?
                .label(names[layer])
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 20, y + 5)], colour.filled())
                });
        }
        chart
            .draw_secondary_series(LineSeries::new(error_rates, BLUE.stroke_width(2)))
            .map_err(err)?
            .label("error rate (%)")
            .legend(legend_line(BLUE));
        for (name, limit) in limits {
            chart
                .draw_secondary_series(DashedLineSeries::new(
                    [(clock_start, limit), (clock_end, limit)],
                    8,
                    6,
                    VERMILLION.stroke_width(2),
                ))
                .map_err(err)?
                .label(format!("limit: {name}"))
                .legend(legend_line(VERMILLION));
        }
        legend(
            chart.configure_series_labels(),
            SeriesLabelPosition::UpperLeft,
            13,
        )
    }
}

struct ArrivalsChart;

impl Chart for ArrivalsChart {
    fn draw<DB: DrawingBackend>(&self, data: &RunData, root: &DrawingArea<DB, Shift>) -> Drawn {
        let rate = |n: u64, seconds: f64| n as f64 / seconds;
        let intended: Vec<(f64, f64)> = data
            .clocked()
            .filter_map(|(c, p)| p.intended.map(|i| (c, rate(i, p.seconds))))
            .collect();
        let started: Vec<(f64, f64)> = data
            .clocked()
            .map(|(c, p)| (c, rate(p.started, p.seconds)))
            .collect();
        let late: Vec<(f64, f64)> = data
            .clocked()
            .map(|(c, p)| (c, rate(p.late, p.seconds)))
            .collect();
        let held: Vec<(f64, f64)> = data
            .clocked()
            .map(|(c, p)| (c, rate(p.held, p.seconds)))
            .collect();
        let top = intended
            .iter()
            .chain(&started)
            .map(|p| p.1)
            .fold(1.0, f64::max)
            * 1.1;
        let s = &data.summary;
        let verdict = if s.generator.valid {
            "generator valid".to_string()
        } else {
            format!("generator NOT valid: {}", s.generator.reason)
        };
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!(
                    "{} — lateness p99 {:.1} ms; {verdict}",
                    title(data, "Arrivals per second"),
                    s.visits.lateness_p99_ms
                ),
                (FONT, 18),
            )
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(clock_axis_range(data), 0.0..top)
            .map_err(err)?;
        chart
            .configure_mesh()
            .y_label_formatter(&number)
            .x_desc(clock_axis(data))
            .y_desc("visits per second (wall time)")
            .x_label_formatter(&clock_labels(data))
            .label_style((FONT, 14))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(AreaSeries::new(late, 0.0, VERMILLION.mix(0.5)))
            .map_err(err)?
            .label(format!(
                "late (> {:.0} ms after intended)",
                s.generator.late_after_ms
            ))
            .legend(|(x, y)| {
                Rectangle::new([(x, y - 5), (x + 20, y + 5)], VERMILLION.mix(0.5).filled())
            });
        if held.iter().any(|p| p.1 > 0.0) {
            chart
                .draw_series(LineSeries::new(held, ORANGE.stroke_width(2)))
                .map_err(err)?
                .label("left the waiting room (let in or gave up)")
                .legend(legend_line(ORANGE));
        }
        if let Some((line, text)) = knee_line(data, top) {
            chart.draw_series(line).map_err(err)?;
            chart.draw_series([text]).map_err(err)?;
        }
        chart
            .draw_series(LineSeries::new(intended, BLACK.stroke_width(2)))
            .map_err(err)?
            .label("intended")
            .legend(legend_line(BLACK));
        chart
            .draw_series(LineSeries::new(started, SKY.stroke_width(2)))
            .map_err(err)?
            .label("started")
            .legend(legend_line(SKY));
        legend(
            chart.configure_series_labels(),
            SeriesLabelPosition::UpperLeft,
            14,
        )
    }
}

struct FunnelChart;

impl Chart for FunnelChart {
    fn size(&self) -> (u32, u32) {
        (1200, 900)
    }

    fn draw<DB: DrawingBackend>(&self, data: &RunData, root: &DrawingArea<DB, Shift>) -> Drawn {
        let titled = root
            .titled(&title(data, "Enrollment funnel"), (FONT, 22))
            .map_err(err)?;
        let (overall, insurers) = titled.split_vertically(420);
        // The same conversions as the tables: among the visits whose journey tried each stage.
        let rows = super::tables::funnel(&data.summary);
        let counts: Vec<(Stage, u64)> = Stage::ALL
            .iter()
            .zip(&rows)
            .map(|(s, row)| (*s, row.count))
            .collect();
        let top = counts.first().map_or(1, |c| c.1).max(1) as f64;
        let mut chart = ChartBuilder::on(&overall)
            .caption(
                "all visits: count, and conversion among the visits that tried the stage",
                (FONT, 16),
            )
            .margin(15)
            .x_label_area_size(30)
            .y_label_area_size(110)
            .build_cartesian_2d(0.0..top * 1.25, (0..counts.len() as i32).into_segmented())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_label_formatter(&number)
            .disable_y_mesh()
            .x_desc("visits")
            .y_label_formatter(&|y| match y {
                SegmentValue::CenterOf(i) => usize::try_from(counts.len() as i32 - 1 - *i)
                    .ok()
                    .and_then(|row| counts.get(row))
                    .map_or(String::new(), |c| c.0.name().to_string()),
                _ => String::new(),
            })
            .label_style((FONT, 14))
            .draw()
            .map_err(err)?;
        for (i, (stage, count)) in counts.iter().enumerate() {
            let row = (counts.len() - 1 - i) as i32;
            let conversion = match rows[i].tried {
                Some(tried) if tried > 0 => format!(
                    "  ({:.1}% of {} who tried)",
                    100.0 * *count as f64 / tried as f64,
                    number(&(tried as f64))
                ),
                _ => String::new(),
            };
            let colour = if *stage >= Stage::Selected { BLUE } else { SKY };
            chart
                .draw_series([Rectangle::new(
                    [
                        (0.0, SegmentValue::Exact(row)),
                        (*count as f64, SegmentValue::Exact(row + 1)),
                    ],
                    colour.filled(),
                )])
                .map_err(err)?;
            chart
                .draw_series([Text::new(
                    format!("{count}{conversion}"),
                    (*count as f64 + top * 0.01, SegmentValue::CenterOf(row)),
                    (FONT, 14),
                )])
                .map_err(err)?;
        }

        // Per insurer, from plan selection on; the busiest twelve.
        let mut rows: Vec<(&String, &crate::rundir::summary::InsurerSummary)> =
            data.summary.funnel_by_insurer.iter().collect();
        rows.sort_by_key(|r| std::cmp::Reverse(r.1.selected));
        rows.truncate(12);
        let most = rows.iter().map(|r| r.1.selected).max().unwrap_or(1).max(1) as f64;
        let n = rows.len().max(1) as f64;
        let mut chart = ChartBuilder::on(&insurers)
            .caption(
                "per insurer, from plan selection on (the twelve busiest)",
                (FONT, 16),
            )
            .margin(15)
            .x_label_area_size(30)
            .y_label_area_size(20)
            .build_cartesian_2d(0.0..most * 1.15, 0.0..n)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_label_formatter(&number)
            .disable_y_mesh()
            .disable_y_axis()
            .x_desc("visits")
            .label_style((FONT, 12))
            .draw()
            .map_err(err)?;
        let stages = [
            ("selected", SKY),
            ("redirected", BLUE),
            ("paid", GREEN),
            ("effectuated (active at the insurer)", ORANGE),
        ];
        for (k, (name, colour)) in stages.iter().enumerate() {
            // Each row: the insurer's name on top, then one thin bar per stage.
            let bars: Vec<Rectangle<(f64, f64)>> = rows
                .iter()
                .enumerate()
                .map(|(i, (_, r))| {
                    let value = [r.selected, r.redirected, r.paid, r.effectuated][k] as f64;
                    let top = n - i as f64 - 0.3 - k as f64 * 0.16;
                    Rectangle::new([(0.0, top), (value, top - 0.14)], colour.filled())
                })
                .collect();
            let colour = *colour;
            chart
                .draw_series(bars)
                .map_err(err)?
                .label(*name)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 20, y + 5)], colour.filled())
                });
        }
        let labels: Vec<Text<(f64, f64), String>> = rows
            .iter()
            .enumerate()
            .map(|(i, (id, r))| {
                Text::new(
                    format!(
                        "{id} {} — selected {}, redirected {}, paid {}, effectuated {}",
                        short_name(&r.name, 28),
                        r.selected,
                        r.redirected,
                        r.paid,
                        r.effectuated
                    ),
                    (most * 0.005, n - i as f64 - 0.05),
                    (FONT, 12).into_font(),
                )
            })
            .collect();
        chart.draw_series(labels).map_err(err)?;
        legend(
            chart.configure_series_labels(),
            SeriesLabelPosition::LowerRight,
            12,
        )
    }
}
