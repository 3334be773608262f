//! The capacity search's curves, against the rate offered: what the target served, how long visits
//! took, and how many failed or converted. A capacity engineer reads the answer off these curves
//! (where served leaves the y = x line, where latency climbs), so the capacity and the knee are
//! drawn on each, and every step is marked by what it proved: held, failed an SLO, or said nothing
//! about the target because surge itself could not send the rate.
//!
//! Each chart is written as SVG and PNG, in the report's style (its fonts, palette and legends).
//! An empty search still gets its three charts, each saying "no steps were measured", so a report
//! page that links them never breaks.

use std::path::Path;

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::headroom::rate;
use super::Step;
use crate::report::charts::{
    creating, err, legend, legend_line, register_fonts, writing, ChartError, BLUE, FONT, GREEN,
    GREY, ORANGE, PURPLE, VERMILLION,
};

/// The charts' file stems and what each shows.
pub const CHARTS: [(&str, &str); 3] = [
    ("capacity-throughput", "Throughput: served against offered"),
    ("capacity-latency", "Visit latency against offered"),
    ("capacity-errors", "Errors and conversion against offered"),
];

const SIZE: (u32, u32) = (1200, 700);

/// The latency key every step records for whole visits.
const VISIT: &str = "visit";

/// Draw the three charts of a capacity search into `dir` (created if need be), as `<name>.svg` and
/// `<name>.png`. `capacity` is in served visits/s and `knee` an offered rate; either is drawn when
/// known. The error names the file that could not be written.
pub fn draw(steps: &[Step], capacity: Option<f64>, knee: Option<f64>, dir: &Path) -> Drawn {
    register_fonts();
    std::fs::create_dir_all(dir).map_err(creating(dir))?;
    let search = Search::of(steps, capacity, knee);
    both(&search, dir, CHARTS[0].0, &Throughput)?;
    both(&search, dir, CHARTS[1].0, &Latency)?;
    both(&search, dir, CHARTS[2].0, &Errors)
}

/// What a step proved about the target.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Verdict {
    Held,
    Failed,
    /// The generator did not deliver the offered rate: no evidence about the target.
    SurgeLimit,
}

impl Verdict {
    fn of(step: &Step) -> Self {
        if !step.generator_valid {
            Verdict::SurgeLimit
        } else if step.holds {
            Verdict::Held
        } else {
            Verdict::Failed
        }
    }

    fn label(self) -> &'static str {
        match self {
            Verdict::Held => "step held",
            Verdict::Failed => "step failed an SLO",
            Verdict::SurgeLimit => "surge was the limit (generator not valid)",
        }
    }
}

/// The steps in offered order (the search visits rates out of order), with the lines to draw.
struct Search<'a> {
    steps: Vec<&'a Step>,
    capacity: Option<f64>,
    knee: Option<f64>,
    /// The offered axis runs from 0 to this.
    x_top: f64,
}

impl<'a> Search<'a> {
    fn of(steps: &'a [Step], capacity: Option<f64>, knee: Option<f64>) -> Self {
        let finite = |v: Option<f64>| v.filter(|v| v.is_finite() && *v > 0.0);
        let (capacity, knee) = (finite(capacity), finite(knee));
        let mut steps: Vec<&Step> = steps.iter().filter(|s| s.offered.is_finite()).collect();
        steps.sort_by(|a, b| a.offered.total_cmp(&b.offered));
        let x_top = steps
            .iter()
            .map(|s| s.offered)
            .chain(capacity)
            .chain(knee)
            .fold(1.0, f64::max)
            * 1.1;
        Search {
            steps,
            capacity,
            knee,
            x_top,
        }
    }

    fn title(&self, what: &str) -> String {
        format!("Capacity search — {what} ({} steps)", self.steps.len())
    }
}

type Drawn = Result<(), ChartError>;

/// A chart that can be drawn on any plotters backend.
trait Chart {
    fn draw<DB: DrawingBackend>(&self, search: &Search, root: &DrawingArea<DB, Shift>) -> Drawn;
}

/// Draw `chart` as `<name>.svg` and `<name>.png` in `dir`.
fn both(search: &Search, dir: &Path, name: &str, chart: &impl Chart) -> Drawn {
    let svg = dir.join(format!("{name}.svg"));
    on(
        search,
        chart,
        SVGBackend::new(&svg, SIZE).into_drawing_area(),
        name,
    )
    .map_err(writing(&svg))?;
    let png = dir.join(format!("{name}.png"));
    on(
        search,
        chart,
        BitMapBackend::new(&png, SIZE).into_drawing_area(),
        name,
    )
    .map_err(writing(&png))
}

fn on<DB: DrawingBackend>(
    search: &Search,
    chart: &impl Chart,
    root: DrawingArea<DB, Shift>,
    name: &str,
) -> Drawn {
    root.fill(&WHITE).map_err(err)?;
    if search.steps.is_empty() {
        let what = CHARTS.iter().find(|c| c.0 == name).map_or(name, |c| c.1);
        root.titled(&search.title(what), (FONT, 22))
            .map_err(err)?
            .draw(&Text::new(
                "no steps were measured",
                (SIZE.0 as i32 / 2 - 120, SIZE.1 as i32 / 2 - 40),
                (FONT, 24),
            ))
            .map_err(err)?;
    } else {
        chart.draw(search, &root)?;
    }
    root.present().map_err(err)
}

/// Axis labels: whole numbers grouped by thousands, small fractions as they are.
fn axis_number(value: &f64) -> String {
    if value.fract() == 0.0 && value.abs() < 10.0 {
        format!("{value:.0}")
    } else if value.abs() < 10.0 {
        format!("{value}")
    } else {
        rate(*value)
    }
}

/// The capacity and the knee, when known, as dashed vertical lines at their offered rates, from
/// `bottom` to `top` of the chart.
fn mark_rates<DB: DrawingBackend, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, Y>>,
    capacity: Option<f64>,
    knee: Option<f64>,
    (bottom, top): (f64, f64),
) -> Drawn {
    let lines = [
        capacity.map(|c| (c, format!("capacity: {} visits/s", rate(c)), BLACK)),
        knee.map(|k| (k, format!("knee: offered {} visits/s", rate(k)), PURPLE)),
    ];
    for (x, label, colour) in lines.into_iter().flatten() {
        chart
            .draw_series(DashedLineSeries::new(
                [(x, bottom), (x, top)],
                8,
                6,
                colour.stroke_width(2),
            ))
            .map_err(err)?
            .label(label)
            .legend(legend_line(colour));
    }
    Ok(())
}

/// Each step's marker: a filled green circle held, a vermillion cross failed, a hollow grey
/// triangle where surge was the limit. Legend entries only for the verdicts present.
fn mark_steps<'a, DB: DrawingBackend + 'a, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, Y>>,
    points: &[(f64, f64, Verdict)],
) -> Drawn {
    for verdict in [Verdict::Held, Verdict::Failed, Verdict::SurgeLimit] {
        let at: Vec<(f64, f64)> = points
            .iter()
            .filter(|p| p.2 == verdict)
            .map(|p| (p.0, p.1))
            .collect();
        if at.is_empty() {
            continue;
        }
        let series = match verdict {
            Verdict::Held => {
                chart.draw_series(at.iter().map(|p| Circle::new(*p, 6, GREEN.filled())))
            }
            Verdict::Failed => chart.draw_series(
                at.iter()
                    .map(|p| Cross::new(*p, 7, VERMILLION.stroke_width(3))),
            ),
            Verdict::SurgeLimit => chart.draw_series(
                at.iter()
                    .map(|p| TriangleMarker::new(*p, 8, GREY.stroke_width(2))),
            ),
        }
        .map_err(err)?;
        series
            .label(verdict.label())
            .legend(move |(x, y)| match verdict {
                Verdict::Held => Circle::new((x + 10, y), 5, GREEN.filled()).into_dyn(),
                Verdict::Failed => {
                    Cross::new((x + 10, y), 5, VERMILLION.stroke_width(3)).into_dyn()
                }
                Verdict::SurgeLimit => {
                    TriangleMarker::new((x + 10, y), 6, GREY.stroke_width(2)).into_dyn()
                }
            });
    }
    Ok(())
}

struct Throughput;

impl Chart for Throughput {
    fn draw<DB: DrawingBackend>(&self, search: &Search, root: &DrawingArea<DB, Shift>) -> Drawn {
        let served: Vec<(f64, f64, Verdict)> = search
            .steps
            .iter()
            .filter(|s| s.served.is_finite())
            .map(|s| (s.offered, s.served, Verdict::of(s)))
            .collect();
        // Both axes on one scale, so y = x is the diagonal.
        let top = served
            .iter()
            .map(|p| p.1)
            .chain(search.capacity)
            .fold(search.x_top, f64::max);
        let mut chart = ChartBuilder::on(root)
            .caption(search.title(CHARTS[0].1), (FONT, 22))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..top, 0.0..top)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_label_formatter(&axis_number)
            .y_label_formatter(&axis_number)
            .x_desc("offered (visits/s)")
            .y_desc("served (visits/s)")
            .label_style((FONT, 14))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, 0.0), (top, top)],
                4,
                4,
                GREY.stroke_width(1),
            ))
            .map_err(err)?
            .label("served = offered")
            .legend(legend_line(GREY));
        chart
            .draw_series(LineSeries::new(
                served.iter().map(|p| (p.0, p.1)),
                BLUE.stroke_width(2),
            ))
            .map_err(err)?
            .label("served")
            .legend(legend_line(BLUE));
        if let Some(capacity) = search.capacity {
            // On this chart the capacity is what is served: a horizontal line.
            chart
                .draw_series(DashedLineSeries::new(
                    [(0.0, capacity), (top, capacity)],
                    8,
                    6,
                    BLACK.stroke_width(2),
                ))
                .map_err(err)?
                .label(format!("capacity: {} visits/s", rate(capacity)))
                .legend(legend_line(BLACK));
        }
        mark_rates(&mut chart, None, search.knee, (0.0, top))?;
        mark_steps(&mut chart, &served)?;
        legend(
            chart.configure_series_labels(),
            SeriesLabelPosition::UpperLeft,
            14,
        )
        .map_err(err)
    }
}

struct Latency;

impl Chart for Latency {
    fn draw<DB: DrawingBackend>(&self, search: &Search, root: &DrawingArea<DB, Shift>) -> Drawn {
        // (offered, [p50, p95, p99]) of the steps that measured whole visits.
        let percentiles: Vec<(f64, [f64; 3], Verdict)> = search
            .steps
            .iter()
            .filter_map(|s| Some((s.offered, *s.latency_ms.get(VISIT)?, Verdict::of(s))))
            .collect();
        let positive = || {
            percentiles
                .iter()
                .flat_map(|p| p.1)
                .filter(|v| v.is_finite() && *v > 0.0)
        };
        // Across a search latency spans orders of magnitude (ms below the knee, s above): log y.
        let top = positive().fold(1.0, f64::max) * 1.5;
        let bottom = positive().fold(top / 1.5, f64::min) / 1.5;
        let mut chart = ChartBuilder::on(root)
            .caption(search.title(CHARTS[1].1), (FONT, 22))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..search.x_top, (bottom..top).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_label_formatter(&axis_number)
            .y_label_formatter(&axis_number)
            .x_desc("offered (visits/s)")
            .y_desc("visit latency (ms, log scale)")
            .label_style((FONT, 14))
            .draw()
            .map_err(err)?;
        mark_rates(&mut chart, search.capacity, search.knee, (bottom, top))?;
        for (k, (name, colour)) in [("p50", GREEN), ("p95", ORANGE), ("p99", VERMILLION)]
            .into_iter()
            .enumerate()
        {
            let line: Vec<(f64, f64)> = percentiles
                .iter()
                .map(|p| (p.0, p.1[k]))
                .filter(|p| p.1.is_finite() && p.1 > 0.0)
                .collect();
            chart
                .draw_series(LineSeries::new(
                    line.iter().copied(),
                    colour.stroke_width(2),
                ))
                .map_err(err)?
                .label(name)
                .legend(legend_line(colour));
            chart
                .draw_series(line.iter().map(|p| Circle::new(*p, 3, colour.filled())))
                .map_err(err)?;
        }
        // Each step's verdict marked on its p95.
        let p95: Vec<(f64, f64, Verdict)> = percentiles
            .iter()
            .filter(|p| p.1[1].is_finite() && p.1[1] > 0.0)
            .map(|p| (p.0, p.1[1], p.2))
            .collect();
        mark_steps(&mut chart, &p95)?;
        legend(
            chart.configure_series_labels(),
            SeriesLabelPosition::UpperLeft,
            14,
        )
        .map_err(err)
    }
}

struct Errors;

impl Chart for Errors {
    fn draw<DB: DrawingBackend>(&self, search: &Search, root: &DrawingArea<DB, Shift>) -> Drawn {
        let percent = |share: f64| (share.is_finite()).then_some(100.0 * share);
        let errors: Vec<(f64, f64)> = search
            .steps
            .iter()
            .filter_map(|s| Some((s.offered, percent(s.error_rate)?)))
            .collect();
        let conversion: Vec<(f64, f64)> = search
            .steps
            .iter()
            .filter_map(|s| Some((s.offered, percent(s.conversion)?)))
            .collect();
        let error_top = errors.iter().map(|p| p.1).fold(1.0, f64::max) * 1.2;
        let mut chart = ChartBuilder::on(root)
            .caption(search.title(CHARTS[2].1), (FONT, 22))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .right_y_label_area_size(70)
            .build_cartesian_2d(0.0..search.x_top, 0.0..error_top)
            .map_err(err)?
            .set_secondary_coord(0.0..search.x_top, 0.0..105.0);
        chart
            .configure_mesh()
            .x_label_formatter(&axis_number)
            .y_label_formatter(&axis_number)
            .x_desc("offered (visits/s)")
            .y_desc("error rate (% of requests)")
            .label_style((FONT, 14))
            .draw()
            .map_err(err)?;
        chart
            .configure_secondary_axes()
            .y_label_formatter(&axis_number)
            .y_desc("conversion (% of visits that tried the deepest stage)")
            .label_style((FONT, 14))
            .draw()
            .map_err(err)?;
        mark_rates(&mut chart, search.capacity, search.knee, (0.0, error_top))?;
        chart
            .draw_series(LineSeries::new(
                errors.iter().copied(),
                BLUE.stroke_width(2),
            ))
            .map_err(err)?
            .label("error rate (%)")
            .legend(legend_line(BLUE));
        chart
            .draw_series(errors.iter().map(|p| Circle::new(*p, 4, BLUE.filled())))
            .map_err(err)?;
        chart
            .draw_secondary_series(LineSeries::new(
                conversion.iter().copied(),
                GREEN.stroke_width(2),
            ))
            .map_err(err)?
            .label("conversion (%, right axis)")
            .legend(legend_line(GREEN));
        chart
            .draw_secondary_series(
                conversion
                    .iter()
                    .map(|p| TriangleMarker::new(*p, 5, GREEN.filled())),
            )
            .map_err(err)?;
        legend(
            chart.configure_series_labels(),
            SeriesLabelPosition::UpperLeft,
            14,
        )
        .map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("surge-capacity-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn step(index: usize, offered: f64, served: f64, holds: bool, valid: bool) -> Step {
        let p50 = 20.0 * (1.0 + (offered / 100.0).powi(4));
        Step {
            index,
            offered,
            served,
            in_flight: served * p50 / 1000.0,
            latency_ms: BTreeMap::from([(VISIT.to_string(), [p50, p50 * 3.0, p50 * 5.0])]),
            error_rate: if holds { 0.001 } else { 0.08 },
            conversion: if holds { 0.98 } else { 0.7 },
            generator_valid: valid,
            holds: holds && valid,
            ..Step::default()
        }
    }

    fn a_search() -> Vec<Step> {
        vec![
            step(0, 40.0, 40.0, true, true),
            step(1, 60.0, 59.5, true, true),
            step(2, 90.0, 88.0, true, true),
            step(3, 135.0, 101.0, false, true),
            step(4, 112.0, 99.0, false, true),
            step(5, 101.0, 97.0, true, true),
            step(6, 2000.0, 300.0, false, false),
        ]
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    const SIX: [&str; 6] = [
        "capacity-errors.png",
        "capacity-errors.svg",
        "capacity-latency.png",
        "capacity-latency.svg",
        "capacity-throughput.png",
        "capacity-throughput.svg",
    ];

    #[test]
    fn a_search_draws_six_files_with_their_axes_and_lines() {
        let dir = scratch("draw").join("charts");
        draw(&a_search(), Some(97.0), Some(95.0), &dir).unwrap();
        assert_eq!(files(&dir), SIX);
        for name in SIX {
            let bytes = std::fs::read(dir.join(name)).unwrap();
            assert!(bytes.len() > 1000, "{name}: {} bytes", bytes.len());
        }
        let svg = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
        let throughput = svg("capacity-throughput.svg");
        for text in [
            "offered (visits/s)",
            "served (visits/s)",
            "served = offered",
            "capacity: 97.0 visits/s",
            "knee: offered 95.0 visits/s",
            "step held",
            "step failed an SLO",
            "surge was the limit (generator not valid)",
            "(7 steps)",
        ] {
            assert!(throughput.contains(text), "throughput chart lacks {text:?}");
        }
        let latency = svg("capacity-latency.svg");
        for text in [
            "visit latency (ms, log scale)",
            "p50",
            "p95",
            "p99",
            "capacity: 97",
        ] {
            assert!(latency.contains(text), "latency chart lacks {text:?}");
        }
        let errors = svg("capacity-errors.svg");
        for text in [
            "error rate (% of requests)",
            "conversion (",
            "knee: offered 95",
        ] {
            assert!(errors.contains(text), "errors chart lacks {text:?}");
        }
        // The PNGs are PNGs.
        let png = std::fs::read(dir.join("capacity-throughput.png")).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let _ = std::fs::remove_dir_all(dir.parent().unwrap());
    }

    #[test]
    fn without_capacity_or_knee_no_line_claims_one() {
        let dir = scratch("bare");
        let only_held: Vec<Step> = a_search().into_iter().filter(|s| s.holds).collect();
        draw(&only_held, None, None, &dir).unwrap();
        let throughput = std::fs::read_to_string(dir.join("capacity-throughput.svg")).unwrap();
        assert!(!throughput.contains("capacity:"));
        assert!(!throughput.contains("knee:"));
        // A verdict no step reached has no legend entry.
        assert!(!throughput.contains("step failed an SLO"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn no_steps_draw_charts_that_say_so() {
        let dir = scratch("empty");
        draw(&[], Some(100.0), None, &dir).unwrap();
        assert_eq!(files(&dir), SIX);
        let svg = std::fs::read_to_string(dir.join("capacity-latency.svg")).unwrap();
        assert!(svg.contains("no steps were measured"));
        assert!(svg.contains("(0 steps)"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_directory_that_cannot_be_made_is_named() {
        let dir = scratch("blocked");
        std::fs::write(&dir, "a file where the directory should be").unwrap();
        let error = draw(&a_search(), None, None, &dir.join("charts")).unwrap_err();
        let error = error.to_string();
        assert!(error.contains(&dir.display().to_string()), "{error}");
        let _ = std::fs::remove_file(&dir);
    }

    #[test]
    fn a_file_that_cannot_be_written_is_named() {
        let dir = scratch("unwritable");
        // A directory where the SVG should go: writing it fails.
        std::fs::create_dir_all(dir.join("capacity-throughput.svg")).unwrap();
        let error = draw(&a_search(), None, None, &dir).unwrap_err();
        let error = error.to_string();
        assert!(error.contains("capacity-throughput.svg"), "{error}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
