//! The report as data: every section of a run's report and its tables — columns with their
//! headings, rows of cells, the notes in between — built once from the summary. `index.html`,
//! `summary.md` and the console tables are this one model through three templates
//! (`templates/*.j2`), so a column is added here, once, and each page shows it.
//!
//! The pages are not alike: the console is narrow and Markdown short, so a column says on which
//! pages it appears and under what heading (`None`: not on that page), and a row may be left off a
//! page. Cells hold what they mean (a pass mark, an insurer, a rule's name), never markup: each
//! template draws them in its own way and HTML escapes them itself.

use serde::Serialize;

use super::axis::short_name;
use super::tables::{
    cracked_classes, funnel, headline, knee_line, replay_headline, share, spikes, steps,
    two_meanings, RunVerdict,
};
use crate::rundir::exemplars::Exemplar;
use crate::rundir::summary::{Summary, CRACK_CLASSES};

/// One report, ready for any page.
#[derive(Debug, Serialize)]
pub struct Report {
    pub scenario: String,
    pub target: String,
    /// Nothing failed and the run is valid.
    pub good: bool,
    pub headline: String,
    /// `Knee at …: …`.
    pub knee: Option<String>,
    /// The run at a glance (name, value).
    pub facts: Vec<(String, String)>,
    pub run: Run,
    /// Threshold rules, then baseline comparisons (those on the HTML page only).
    pub thresholds: Table,
    pub steps: Table,
    pub funnel: Table,
    /// Per insurer, from selection to effectuation; empty when the run has no insurers.
    pub funnel_by_insurer: Table,
    pub cracks: Cracks,
    pub failures: Table,
    pub replay: Option<Replay>,
    pub spikes: Spikes,
    pub surge_version: String,
}

/// The numbers the pages' opening lines quote, each page in its own words.
#[derive(Debug, Serialize)]
pub struct Run {
    pub ending: String,
    pub duration_s: f64,
    pub seed: u64,
    /// As the scenario gives it: `60`, `1.5`.
    pub time_scale: String,
    pub planned: u64,
    pub started: u64,
    pub completed: u64,
    pub late: u64,
    pub lateness_p99_ms: f64,
    pub run_error: Option<String>,
    pub valid: bool,
    pub not_valid_reason: String,
    /// Waits in a waiting room; `None` when nobody waited.
    pub waiting: Option<Waiting>,
}

#[derive(Debug, Serialize)]
pub struct Waiting {
    pub waits: u64,
    pub gave_up: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub max_ms: f64,
}

/// The cracks section: the table and what to say around it.
#[derive(Debug, Serialize)]
pub struct Cracks {
    /// The run has insurers (the table has rows).
    pub insurers: bool,
    /// Where the insurers' records came from, when the cracks were reconciled with them.
    pub reconciled_with: Option<String>,
    /// Why they were not.
    pub unreconciled: Option<String>,
    /// Ids that did not match between the harness and the insurers.
    pub mismatch: Option<String>,
    /// Some class has an applicant.
    pub cracked: bool,
    /// The insurers' records were read and the ids matched.
    pub accounted: bool,
    pub insurer_records: bool,
    pub fell_through: u64,
    pub applications: u64,
    /// The funnel's effectuated against the cracks' covered, when a page shows both.
    pub two_meanings: Option<String>,
    pub warnings: Vec<String>,
    pub table: Table,
}

#[derive(Debug, Serialize)]
pub struct Replay {
    pub headline: String,
    pub table: Table,
}

/// The spike windows, and a few example requests of each (`examples[i]` are row `i`'s).
#[derive(Debug, Serialize)]
pub struct Spikes {
    pub table: Table,
    pub examples: Vec<SpikeExamples>,
}

#[derive(Debug, Serialize)]
pub struct SpikeExamples {
    /// `browse latency 00:00:15–00:00:20`.
    pub about: String,
    pub lines: Vec<String>,
}

/// A table: its columns and its rows, one cell per column.
#[derive(Debug, Serialize, Default)]
pub struct Table {
    pub columns: Vec<Column>,
    pub rows: Vec<Row>,
}

/// A column, with its heading on each page (`None`: the page leaves it out).
#[derive(Debug, Serialize, Clone)]
pub struct Column {
    pub html: Option<String>,
    pub markdown: Option<String>,
    pub text: Option<String>,
    /// HTML: the heading's hover text.
    pub title: Option<String>,
    /// Console: width the cell is padded to (0: not padded), the spaces before it, and a word
    /// before the value (`limit 500ms`).
    pub width: usize,
    pub gap: usize,
    pub label: Option<String>,
    /// Left-aligned: padded on the right in the console, `---` rather than `---:` in Markdown.
    pub left: bool,
    /// HTML: aligned left although it is not the first column (prose).
    pub html_left: bool,
}

impl Column {
    /// A column with the same heading on every page, right-aligned, one space before it.
    fn new(heading: &str) -> Column {
        Column {
            html: Some(heading.to_string()),
            markdown: Some(heading.to_string()),
            text: Some(heading.to_string()),
            title: None,
            width: 0,
            gap: 1,
            label: None,
            left: false,
            html_left: false,
        }
    }

    fn markdown(mut self, heading: &str) -> Column {
        self.markdown = Some(heading.to_string());
        self
    }

    fn text(mut self, heading: &str) -> Column {
        self.text = Some(heading.to_string());
        self
    }

    fn not_markdown(mut self) -> Column {
        self.markdown = None;
        self
    }

    fn not_text(mut self) -> Column {
        self.text = None;
        self
    }

    fn html_only(self) -> Column {
        self.not_markdown().not_text()
    }

    fn width(mut self, width: usize) -> Column {
        self.width = width;
        self
    }

    fn gap(mut self, gap: usize) -> Column {
        self.gap = gap;
        self
    }

    fn label(mut self, label: &str) -> Column {
        self.label = Some(label.to_string());
        self
    }

    fn left(mut self) -> Column {
        self.left = true;
        self
    }

    fn html_left(mut self) -> Column {
        self.html_left = true;
        self
    }

    fn title(mut self, title: &str) -> Column {
        self.title = Some(title.to_string());
        self
    }
}

/// A row, and the pages that show it.
#[derive(Debug, Serialize)]
pub struct Row {
    pub cells: Vec<Cell>,
    pub markdown: bool,
    pub text: bool,
}

impl Row {
    fn new(cells: Vec<Cell>) -> Row {
        Row {
            cells,
            markdown: true,
            text: true,
        }
    }

    fn html_only(mut self) -> Row {
        self.markdown = false;
        self.text = false;
        self
    }
}

/// What a cell means; each page draws it its own way.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Cell {
    /// A value; `console` when the console words it otherwise, `title` the HTML hover text.
    Value {
        value: String,
        console: Option<String>,
        title: Option<String>,
    },
    /// A rule's name, shown as code, and words after it.
    Code { value: String, after: String },
    /// Pass or fail.
    Mark { pass: bool },
    /// An insurer: id and name (`short`: cut where a word ends, for a narrow column).
    Insurer {
        id: String,
        name: String,
        short: String,
    },
    /// Several values: one a line in HTML, `; ` between them in Markdown.
    Lines { lines: Vec<String> },
}

fn value(value: impl ToString) -> Cell {
    Cell::Value {
        value: value.to_string(),
        console: None,
        title: None,
    }
}

fn empty() -> Cell {
    value("")
}

fn insurer(id: &str, name: &str) -> Cell {
    Cell::Insurer {
        id: id.to_string(),
        name: name.to_string(),
        short: short_name(name, 24),
    }
}

/// Milliseconds and shares, one decimal or two, alike on every page.
fn ms(x: f64) -> Cell {
    value(format!("{x:.1}"))
}

fn percent(rate: f64) -> Cell {
    value(format!("{:.2}%", rate * 100.0))
}

impl Report {
    pub fn of(summary: &Summary, spike_examples: &[Vec<Exemplar>]) -> Report {
        let s = summary;
        Report {
            scenario: s.scenario.clone(),
            target: s.target.clone(),
            good: RunVerdict::of(s).is_good(),
            headline: headline(s),
            knee: knee_line(s),
            facts: facts(s),
            run: run(s),
            thresholds: thresholds(s),
            steps: steps_table(s),
            funnel: funnel_table(s),
            funnel_by_insurer: funnel_by_insurer(s),
            cracks: cracks(s),
            failures: failures(s),
            replay: replay(s),
            spikes: spikes_section(s, spike_examples),
            surge_version: s.surge_version.clone(),
        }
    }
}

fn facts(s: &Summary) -> Vec<(String, String)> {
    let generator = if s.generator.valid {
        format!(
            "valid (pool {}, peak {} in flight)",
            s.generator.pool, s.generator.max_in_flight
        )
    } else {
        format!("NOT valid: {}", s.generator.reason)
    };
    [
        ("scenario", s.scenario.clone()),
        ("target", s.target.clone()),
        ("started", s.started_at.clone()),
        ("seed", s.seed.to_string()),
        ("time scale", format!("{}×", s.time_scale)),
        (
            "scenario clock",
            format!(
                "from {} over {:.0} s of scenario time",
                s.clock_start, s.span_s
            ),
        ),
        ("duration", format!("{:.1} s", s.duration_s)),
        ("ending", s.ending.clone()),
        (
            "visits",
            format!(
                "{} planned, {} started, {} completed, {} late (lateness p99 {:.1} ms)",
                s.visits.planned,
                s.visits.started,
                s.visits.completed,
                s.visits.late,
                s.visits.lateness_p99_ms
            ),
        ),
        ("generator", generator),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_string(), value))
    .collect()
}

fn run(s: &Summary) -> Run {
    let w = &s.waiting_room;
    Run {
        ending: s.ending.clone(),
        duration_s: s.duration_s,
        seed: s.seed,
        time_scale: s.time_scale.to_string(),
        planned: s.visits.planned,
        started: s.visits.started,
        completed: s.visits.completed,
        late: s.visits.late,
        lateness_p99_ms: s.visits.lateness_p99_ms,
        run_error: s.run_error.clone(),
        valid: s.generator.valid,
        not_valid_reason: s.generator.reason.clone(),
        waiting: (w.waits > 0).then_some(Waiting {
            waits: w.waits,
            gave_up: w.gave_up,
            p50_ms: w.wait_p50_ms,
            p95_ms: w.wait_p95_ms,
            max_ms: w.wait_max_ms,
        }),
    }
}

fn thresholds(s: &Summary) -> Table {
    let columns = vec![
        Column::new("").left(),
        Column::new("rule")
            .markdown("threshold")
            .left()
            .html_left()
            .gap(2)
            .width(40),
        Column::new("limit").left().width(12).label("limit"),
        Column::new("observed").left().label("observed"),
    ];
    let mut rows: Vec<Row> = s
        .thresholds
        .iter()
        .map(|t| {
            Row::new(vec![
                Cell::Mark { pass: t.pass },
                Cell::Code {
                    value: t.name.clone(),
                    after: String::new(),
                },
                value(&t.limit),
                value(&t.observed_text),
            ])
        })
        .collect();
    rows.extend(s.baseline.iter().map(|c| {
        Row::new(vec![
            Cell::Mark { pass: c.pass },
            Cell::Code {
                value: c.name.clone(),
                after: " vs baseline".to_string(),
            },
            empty(),
            value(c.describe()),
        ])
        .html_only()
    }));
    Table { columns, rows }
}

fn steps_table(s: &Summary) -> Table {
    let columns = vec![
        Column::new("step").left().width(12),
        Column::new("requests").width(9),
        Column::new("failures").not_markdown().width(9),
        Column::new("error rate")
            .markdown("errors")
            .text("errors")
            .width(8),
        Column::new("p50 ms").width(9),
        Column::new("p95 ms").width(9),
        Column::new("p99 ms").width(9),
        Column::new("p99.9 ms").html_only(),
        Column::new("max ms").width(9),
    ];
    let mut rows: Vec<Row> = steps(s)
        .into_iter()
        .map(|(name, st)| {
            Row::new(vec![
                value(name),
                value(st.requests),
                value(st.failures),
                percent(st.error_rate),
                ms(st.p50_ms),
                ms(st.p95_ms),
                ms(st.p99_ms),
                ms(st.p999_ms),
                ms(st.max_ms),
            ])
        })
        .collect();
    let v = &s.visit_latency;
    rows.push(Row {
        markdown: false,
        ..Row::new(vec![
            Cell::Value {
                value: "(whole visits)".to_string(),
                console: Some("(visit)".to_string()),
                title: None,
            },
            value(v.count),
            empty(),
            empty(),
            ms(v.p50_ms),
            ms(v.p95_ms),
            ms(v.p99_ms),
            empty(),
            ms(v.max_ms),
        ])
    });
    Table { columns, rows }
}

fn funnel_table(s: &Summary) -> Table {
    let columns = vec![
        Column::new("stage").markdown("funnel").left().width(12),
        Column::new("visits").width(9),
        Column::new("tried").not_text(),
        Column::new("conversion").gap(2),
    ];
    let rows = funnel(s)
        .into_iter()
        .map(|row| {
            let console = match row.tried {
                None => String::new(),
                Some(0) => "  (no visit tried it)".to_string(),
                Some(tried) => format!(
                    "{:>6.1}% of {tried} who tried",
                    100.0 * row.count as f64 / tried as f64
                ),
            };
            Row::new(vec![
                value(row.stage),
                value(row.count),
                value(row.tried.map_or(String::new(), |t| t.to_string())),
                Cell::Value {
                    value: row.tried.map_or(String::new(), |t| share(row.count, t)),
                    console: Some(console),
                    title: None,
                },
            ])
        })
        .collect();
    Table { columns, rows }
}

fn funnel_by_insurer(s: &Summary) -> Table {
    let columns = vec![
        Column::new("insurer").html_only(),
        Column::new("selected").html_only(),
        Column::new("redirected").html_only(),
        Column::new("paid").html_only(),
        Column::new("paid of selected").html_only(),
        Column::new("effectuated (active at the insurer)")
            .html_only()
            .title(
                "visits whose journey asks the insurer's policy API, and that it said active; \
                 the cracks table below counts what the insurers' records hold (834 + payment)",
            ),
    ];
    let rows = s
        .funnel_by_insurer
        .iter()
        .map(|(id, r)| {
            Row::new(vec![
                insurer(id, &r.name),
                value(r.selected),
                value(r.redirected),
                value(r.paid),
                value(share(r.paid, r.selected)),
                value(r.effectuated),
            ])
            .html_only()
        })
        .collect();
    Table { columns, rows }
}

fn cracks(s: &Summary) -> Cracks {
    let cracks = &s.cracks;
    let cracked = cracked_classes(s);
    // With the records, what they hold; without, what the insurers' API said.
    let (covered, covered_short) = match cracks.insurer_records {
        true => ("covered (834 + payment)", "covered"),
        false => ("active at the insurer", "active"),
    };
    let mut columns = vec![
        Column::new("insurer").text("insurer").left().width(28),
        Column::new("applications").text("apps").width(6),
        Column::new("given Pay Now")
            .not_markdown()
            .text("paynow")
            .width(6),
        Column::new("redirected").text("redir").width(6),
        Column::new("paid").width(6),
        Column::new(covered).text(covered_short).width(7),
        Column::new("fell through").text("fell").width(6),
    ];
    // Every class on the HTML page; the others only those that occurred.
    columns.extend(CRACK_CLASSES.iter().map(|class| {
        let column = Column::new(&class.replace('_', " ")).text(class).width(18);
        match cracked.contains(class) {
            true => column,
            false => column.html_only(),
        }
    }));
    let rows = cracks
        .insurers
        .iter()
        .map(|(id, i)| {
            let mut cells = vec![
                insurer(id, &i.name),
                value(i.applications),
                value(i.pay_now),
                value(i.redirected),
                value(i.paid),
                value(i.effectuated),
                value(i.fell_through),
            ];
            cells.extend(CRACK_CLASSES.iter().map(|class| {
                // Only a class with applicants has first visits to show.
                let examples = i.examples.get(*class).filter(|v| !v.is_empty());
                Cell::Value {
                    value: i.classes.get(*class).copied().unwrap_or(0).to_string(),
                    console: None,
                    title: examples.map(|v| format!("first visits: {v:?}")),
                }
            }));
            Row::new(cells)
        })
        .collect();
    let unreconciled = cracks.unreconciled();
    Cracks {
        insurers: !cracks.insurers.is_empty(),
        reconciled_with: unreconciled.is_none().then(|| {
            cracks
                .source
                .clone()
                .unwrap_or_else(|| "the insurers' 834 inboxes".to_string())
        }),
        unreconciled,
        mismatch: cracks.mismatch().map(str::to_string),
        cracked: !cracked.is_empty(),
        accounted: cracks.insurer_records && cracks.mismatch().is_none(),
        insurer_records: cracks.insurer_records,
        fell_through: cracks.fell_through(),
        applications: cracks.applications(),
        two_meanings: two_meanings(s),
        warnings: cracks.warnings.clone(),
        table: Table { columns, rows },
    }
}

fn failures(s: &Summary) -> Table {
    let columns = vec![
        Column::new("step").width(12).left(),
        Column::new("reason").left().html_left(),
        Column::new("count").width(7),
        Column::new("first visits"),
    ];
    let rows = s
        .failures
        .iter()
        .map(|f| {
            Row::new(vec![
                value(&f.step),
                value(&f.reason),
                value(f.count),
                value(format!("{:?}", f.example_visits)),
            ])
        })
        .collect();
    Table { columns, rows }
}

fn replay(s: &Summary) -> Option<Replay> {
    let (headline, replay) = (replay_headline(s)?, s.replay.as_ref()?);
    let columns = vec![
        Column::new("step").left().not_text(),
        Column::new("reason").left().html_left().not_text(),
        Column::new("failed in both").not_text(),
        Column::new("only in the original").not_text(),
        Column::new("only in the replay").not_text(),
    ];
    let rows = replay
        .comparison
        .rows
        .iter()
        .map(|row| {
            Row::new(vec![
                value(&row.step),
                value(&row.reason),
                value(row.both),
                value(row.only_original),
                value(row.only_replay),
            ])
        })
        .collect();
    Some(Replay {
        headline,
        table: Table { columns, rows },
    })
}

fn spikes_section(s: &Summary, spike_examples: &[Vec<Exemplar>]) -> Spikes {
    let columns = vec![
        Column::new("window").left().not_text(),
        Column::new("step").left().not_text(),
        Column::new("kind").left().not_text(),
        Column::new("size").left().not_text(),
        Column::new("top reasons").left().html_left().not_text(),
        Column::new("example visits").left().not_text(),
    ];
    let windows = spikes(s, spike_examples);
    let examples = windows
        .iter()
        .map(|w| SpikeExamples {
            about: format!("{} {} {}", w.step, w.kind, w.window),
            lines: w.examples.clone(),
        })
        .collect();
    let rows = windows
        .into_iter()
        .map(|w| {
            Row::new(vec![
                value(w.window),
                value(w.step),
                value(w.kind),
                value(w.size),
                Cell::Lines { lines: w.reasons },
                value(w.visits),
            ])
        })
        .collect();
    Spikes {
        table: Table { columns, rows },
        examples,
    }
}
