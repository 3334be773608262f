//! The Universal Scalability Law (Gunther) fitted to what the steps measured, so the answer can
//! say *why* throughput stops growing (contention σ, coherency κ) and where it would peak:
//!
//! X(N) = λN / (1 + σ(N − 1) + κN(N − 1)), N the concurrency (visits in flight), X the throughput.
//!
//! An open model rarely measures X(1), so λ is fitted too, by non-linear least squares. Given σ and
//! κ the best λ has a closed form, so only (σ, κ) are searched: a coarse grid, then Nelder–Mead
//! from the best grid point, inside σ ∈ [0, 1], κ ≥ 0. Everything is plain arithmetic in a fixed
//! order, so the same points always give the same fit. Formulas: `docs/capacity-usl.md`.

use serde::{Deserialize, Serialize};

/// A USL fit of throughput against concurrency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UslFit {
    /// Contention: throughput flattens towards λ/σ.
    pub sigma: f64,
    /// Coherency: throughput falls past a peak.
    pub kappa: f64,
    /// Throughput of one unit of concurrency.
    pub lambda: f64,
    /// 1 − SSres/SStot over the points fitted.
    pub r2: f64,
    /// N* = sqrt((1 − σ)/κ) when κ > 0 and σ < 1; `None` when the fit has no peak.
    pub peak_concurrency: Option<f64>,
    /// X(N*) with a peak; with κ = 0 and σ > 0 the asymptote λ/σ; otherwise (a linear fit, or
    /// σ = 1) the largest fitted throughput over the measured concurrencies.
    pub peak_throughput: f64,
    /// How many points were fitted.
    #[serde(default)]
    pub points: usize,
    /// The largest concurrency measured: a peak far beyond it is a guess.
    #[serde(default)]
    pub max_concurrency: f64,
    /// A parameter the data push past its bound (σ or κ below 0: scaling better than linear; σ
    /// above 1: throughput falling from the start), which the fit then holds at the bound.
    #[serde(default)]
    pub at_bound: Option<String>,
}

/// Below this R² the fit does not describe the curve.
const MIN_R2: f64 = 0.9;
/// A peak further than this many times the largest measured concurrency is an extrapolation.
const MAX_EXTRAPOLATION: f64 = 2.0;
/// Lifting σ's and κ's bounds must raise R² by more than this for the bound to matter.
const MATERIAL_R2: f64 = 0.01;
/// The notes' rule of thumb: fewer points than this do not pin three parameters down.
const FEW_POINTS: usize = 6;

/// Fit the USL to `points`, each (concurrency N, throughput X). Points with N ≤ 0 or X < 0 are
/// left out; `None` when any value is not finite, when fewer than 3 distinct concurrencies are
/// left, or when nothing was served.
pub fn fit(points: &[(f64, f64)]) -> Option<UslFit> {
    if points.iter().any(|(n, x)| !n.is_finite() || !x.is_finite()) {
        return None;
    }
    let usable: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|&(n, x)| n > 0.0 && x >= 0.0)
        .collect();
    let mut distinct: Vec<f64> = usable.iter().map(|p| p.0).collect();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    if distinct.len() < 3 || usable.iter().all(|p| p.1 == 0.0) {
        return None;
    }
    let max_concurrency = distinct[distinct.len() - 1];
    let problem = Problem {
        points: usable,
        // κ is searched as k = κ·N_max², so its scale does not depend on the units of N.
        kappa_scale: max_concurrency * max_concurrency,
    };

    let start = problem.best_on_grid();
    let (sigma, k) = problem.refine(start);
    let kappa = k / problem.kappa_scale;
    let lambda = problem.lambda(sigma, kappa)?;
    let residual = problem.sse(sigma, kappa);
    let r2 = problem.r2(residual);

    let (peak_concurrency, peak_throughput) = if kappa > 0.0 && sigma < 1.0 {
        let n = ((1.0 - sigma) / kappa).sqrt();
        (Some(n), usl(lambda, sigma, kappa, n))
    } else if kappa == 0.0 && sigma > 0.0 && sigma < 1.0 {
        (None, lambda / sigma)
    } else {
        let best = problem
            .points
            .iter()
            .map(|&(n, _)| usl(lambda, sigma, kappa, n))
            .fold(0.0, f64::max);
        (None, best)
    };

    Some(UslFit {
        sigma,
        kappa,
        lambda,
        r2,
        peak_concurrency,
        peak_throughput,
        points: problem.points.len(),
        max_concurrency,
        at_bound: problem.pushed_past_bound((sigma, k), residual),
    })
}

impl UslFit {
    /// One sentence when the fit should not be trusted, `None` when it may be.
    pub fn poor(&self) -> Option<String> {
        let answer = "the measured curve, not the fit, is the answer";
        if let Some(parameter) = &self.at_bound {
            return Some(format!(
                "the USL does not describe this system ({parameter}; R² {:.2}): {answer}",
                self.r2
            ));
        }
        if self.r2 < MIN_R2 {
            return Some(format!("the USL fits poorly (R² {:.2}): {answer}", self.r2));
        }
        if self.sigma >= 1.0 {
            return Some(format!(
                "throughput does not grow with concurrency (σ = 1), so the USL predicts nothing: {answer}"
            ));
        }
        if self.sigma == 0.0 && self.kappa == 0.0 {
            return Some(format!(
                "throughput still grows linearly with concurrency: the USL predicts no peak, and {answer}"
            ));
        }
        if let Some(peak) = self.peak_concurrency {
            if peak > MAX_EXTRAPOLATION * self.max_concurrency {
                return Some(format!(
                    "the USL's peak (concurrency {peak:.0}) lies far beyond the measured range (up to {:.0}): {answer}",
                    self.max_concurrency
                ));
            }
        }
        if self.points < FEW_POINTS {
            return Some(format!(
                "the USL was fitted to only {} points ({FEW_POINTS} or more make a usable fit): {answer}",
                self.points
            ));
        }
        None
    }
}

/// X(N) for the given parameters.
fn usl(lambda: f64, sigma: f64, kappa: f64, n: f64) -> f64 {
    lambda * shape(sigma, kappa, n).unwrap_or(0.0)
}

/// g(N) = N / (1 + σ(N − 1) + κN(N − 1)), X = λ·g; `None` where the denominator is not positive
/// (possible below N = 1, or with a parameter past its bound).
fn shape(sigma: f64, kappa: f64, n: f64) -> Option<f64> {
    let denominator = 1.0 + sigma * (n - 1.0) + kappa * n * (n - 1.0);
    (denominator > 0.0).then(|| n / denominator)
}

/// The points to fit and the scale κ is searched on.
struct Problem {
    points: Vec<(f64, f64)>,
    kappa_scale: f64,
}

impl Problem {
    /// λ* = Σ X·g / Σ g², the least-squares λ for this σ and κ.
    fn lambda(&self, sigma: f64, kappa: f64) -> Option<f64> {
        let (mut xg, mut gg) = (0.0, 0.0);
        for &(n, x) in &self.points {
            let g = shape(sigma, kappa, n)?;
            xg += x * g;
            gg += g * g;
        }
        (gg > 0.0).then_some(xg / gg)
    }

    /// The sum of squared residuals with the best λ; infinite where the USL is undefined.
    fn sse(&self, sigma: f64, kappa: f64) -> f64 {
        let Some(lambda) = self.lambda(sigma, kappa) else {
            return f64::INFINITY;
        };
        self.points
            .iter()
            .map(|&(n, x)| (x - usl(lambda, sigma, kappa, n)).powi(2))
            .sum()
    }

    /// The objective in search coordinates (σ, k = κ·N_max²), clamped into the allowed region.
    fn objective(&self, (sigma, k): (f64, f64)) -> f64 {
        let (sigma, k) = clamp((sigma, k));
        self.sse(sigma, k / self.kappa_scale)
    }

    fn r2(&self, residual: f64) -> f64 {
        let mean = self.points.iter().map(|p| p.1).sum::<f64>() / self.points.len() as f64;
        let total: f64 = self.points.iter().map(|p| (p.1 - mean).powi(2)).sum();
        if total > 0.0 {
            1.0 - residual / total
        } else if residual <= f64::EPSILON * mean * mean {
            1.0
        } else {
            0.0
        }
    }

    /// The best point of a coarse grid: 0 and four decades of σ up to 1, 0 and eight decades of k.
    fn best_on_grid(&self) -> (f64, f64) {
        // 0, then `count` values from `from` to exactly `to`, evenly spaced in log.
        let decades = |from: f64, to: f64, count: usize| {
            let last = count - 1;
            let ratio = (to / from).powf(1.0 / last as f64);
            std::iter::once(0.0).chain((0..count).map(move |i| match i {
                i if i == last => to,
                i => from * ratio.powi(i as i32),
            }))
        };
        let mut best = ((0.0, 0.0), f64::INFINITY);
        for sigma in decades(1e-4, 1.0, 25) {
            for k in decades(1e-5, 1e3, 33) {
                let value = self.objective((sigma, k));
                if value < best.1 {
                    best = ((sigma, k), value);
                }
            }
        }
        best.0
    }

    /// Nelder–Mead from `start`, restarted from its own answer until a restart gains nothing
    /// (a collapsed simplex can stop short of the minimum).
    fn refine(&self, start: (f64, f64)) -> (f64, f64) {
        let mut best = start;
        let mut value = self.objective(best);
        for _ in 0..4 {
            let next = nelder_mead(|p| self.objective(p), best);
            let next_value = self.objective(next);
            if next_value >= value {
                break;
            }
            best = next;
            value = next_value;
        }
        clamp(best)
    }

    /// The bound the data push past, if any: lifting the bounds (a fit where only the USL's
    /// denominators must stay positive) would raise R² by more than [`MATERIAL_R2`]. Noise alone
    /// moves a parameter at a bound a little past it; that is not worth a word.
    fn pushed_past_bound(&self, (sigma, k): (f64, f64), residual: f64) -> Option<String> {
        let free = |(s, k): (f64, f64)| self.sse(s, k / self.kappa_scale);
        let (free_sigma, free_k) = nelder_mead(free, (sigma, k));
        let gain = self.r2(free((free_sigma, free_k))) - self.r2(residual);
        if gain <= MATERIAL_R2 {
            return None;
        }
        let mut past = Vec::new();
        if free_sigma < 0.0 {
            past.push("σ below 0: throughput grows faster than linearly");
        }
        if free_sigma > 1.0 {
            past.push("σ above 1: throughput falls from the start");
        }
        if free_k < 0.0 {
            past.push("κ below 0: throughput bends upwards");
        }
        (!past.is_empty()).then(|| past.join("; "))
    }
}

/// σ into [0, 1], k to 0 or more.
fn clamp((sigma, k): (f64, f64)) -> (f64, f64) {
    (sigma.clamp(0.0, 1.0), k.max(0.0))
}

/// Minimise `f` over two variables by Nelder–Mead (reflection 1, expansion 2, contraction ½,
/// shrink ½), from `start` with steps proportional to it.
fn nelder_mead(f: impl Fn((f64, f64)) -> f64, start: (f64, f64)) -> (f64, f64) {
    let step = |v: f64, floor: f64| (v.abs() * 0.25).max(floor);
    let mut simplex = [
        start,
        (start.0 + step(start.0, 1e-3), start.1),
        (start.0, start.1 + step(start.1, 1e-4)),
    ]
    .map(|p| (p, f(p)));
    let along =
        |a: (f64, f64), b: (f64, f64), t: f64| (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1));
    for _ in 0..2000 {
        simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        let [(best, best_value), (_, second_value), (worst, worst_value)] = simplex;
        let size = simplex
            .iter()
            .map(|(p, _)| (p.0 - best.0).abs().max((p.1 - best.1).abs()))
            .fold(0.0, f64::max);
        if size < 1e-12 || (worst_value - best_value) <= 1e-15 * best_value.abs() && size < 1e-9 {
            break;
        }
        let centroid = along(simplex[0].0, simplex[1].0, 0.5);
        let reflected = along(centroid, worst, -1.0);
        let reflected_value = f(reflected);
        if reflected_value < best_value {
            let expanded = along(centroid, worst, -2.0);
            let expanded_value = f(expanded);
            simplex[2] = if expanded_value < reflected_value {
                (expanded, expanded_value)
            } else {
                (reflected, reflected_value)
            };
        } else if reflected_value < second_value {
            simplex[2] = (reflected, reflected_value);
        } else {
            let contracted = if reflected_value < worst_value {
                along(centroid, reflected, 0.5)
            } else {
                along(centroid, worst, 0.5)
            };
            let contracted_value = f(contracted);
            if contracted_value < worst_value.min(reflected_value) {
                simplex[2] = (contracted, contracted_value);
            } else {
                for vertex in &mut simplex[1..] {
                    let p = along(best, vertex.0, 0.5);
                    *vertex = (p, f(p));
                }
            }
        }
    }
    simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
    simplex[0].0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points X(N) of a known USL at the given concurrencies, each multiplied by (1 + noise(i)).
    fn curve(
        sigma: f64,
        kappa: f64,
        lambda: f64,
        ns: &[f64],
        noise: impl Fn(usize) -> f64,
    ) -> Vec<(f64, f64)> {
        ns.iter()
            .enumerate()
            .map(|(i, &n)| (n, usl(lambda, sigma, kappa, n) * (1.0 + noise(i))))
            .collect()
    }

    /// ±2 %, deterministic, not periodic over the few points a test has.
    fn two_percent(i: usize) -> f64 {
        0.02 * ((i as f64 * 2.3 + 0.7).sin())
    }

    fn close(actual: f64, expected: f64, relative: f64) -> bool {
        (actual - expected).abs() <= relative * expected.abs()
    }

    const SPREAD: [f64; 12] = [
        1.0, 4.0, 8.0, 12.0, 16.0, 24.0, 32.0, 40.0, 48.0, 56.0, 64.0, 80.0,
    ];

    #[test]
    fn exact_points_of_a_retrograde_curve_give_back_its_parameters() {
        let points = curve(0.05, 0.0005, 100.0, &SPREAD, |_| 0.0);
        let fit = fit(&points).unwrap();
        assert!(close(fit.sigma, 0.05, 1e-3), "{fit:?}");
        assert!(close(fit.kappa, 0.0005, 1e-3), "{fit:?}");
        assert!(close(fit.lambda, 100.0, 1e-4), "{fit:?}");
        assert!(fit.r2 > 0.9999, "{fit:?}");
        let peak = (0.95f64 / 0.0005).sqrt();
        assert!(close(fit.peak_concurrency.unwrap(), peak, 1e-3), "{fit:?}");
        assert!(close(
            fit.peak_throughput,
            usl(100.0, 0.05, 0.0005, peak),
            1e-4
        ));
        assert_eq!(fit.points, 12);
        assert_eq!(fit.max_concurrency, 80.0);
        assert_eq!(fit.poor(), None, "{fit:?}");
    }

    #[test]
    fn noisy_points_without_one_unit_of_concurrency_give_the_parameters_closely() {
        // What an open model measures: N from Little's law, fractional, never 1, with noise.
        let ns = [
            3.3, 7.9, 12.4, 18.0, 23.5, 29.1, 35.8, 41.0, 47.7, 55.2, 63.0,
        ];
        let points = curve(0.03, 0.0008, 250.0, &ns, two_percent);
        let fit = fit(&points).unwrap();
        assert!(fit.r2 >= 0.99, "{fit:?}");
        assert!(close(fit.lambda, 250.0, 0.05), "{fit:?}");
        assert!((fit.sigma - 0.03).abs() < 0.015, "{fit:?}");
        assert!(close(fit.kappa, 0.0008, 0.25), "{fit:?}");
        // The predicted peak of a retrograde curve, within 5 % of the true one.
        let true_peak_n = (0.97f64 / 0.0008).sqrt();
        let true_peak_x = usl(250.0, 0.03, 0.0008, true_peak_n);
        assert!(
            close(fit.peak_concurrency.unwrap(), true_peak_n, 0.05),
            "{fit:?}"
        );
        assert!(close(fit.peak_throughput, true_peak_x, 0.05), "{fit:?}");
        assert_eq!(fit.poor(), None);
    }

    #[test]
    fn a_linear_system_fits_with_no_contention_and_no_peak() {
        let points: Vec<(f64, f64)> = SPREAD.iter().map(|&n| (n, 42.0 * n)).collect();
        let fit = fit(&points).unwrap();
        assert!(fit.sigma < 1e-6 && fit.kappa < 1e-9, "{fit:?}");
        assert!(close(fit.lambda, 42.0, 1e-6), "{fit:?}");
        assert!(fit.r2 > 0.999_999);
        assert_eq!(fit.peak_concurrency, None);
        assert!(close(fit.peak_throughput, 42.0 * 80.0, 1e-4), "{fit:?}");
        assert_eq!(fit.at_bound, None);
        // A perfect fit, but it predicts nothing about a limit.
        assert!(fit.poor().unwrap().contains("no peak"), "{:?}", fit.poor());
    }

    #[test]
    fn an_amdahl_curve_fits_with_no_coherency_and_its_asymptote() {
        let points = curve(0.08, 0.0, 50.0, &SPREAD, |_| 0.0);
        let fit = fit(&points).unwrap();
        assert!(close(fit.sigma, 0.08, 1e-3), "{fit:?}");
        assert_eq!(fit.kappa, 0.0, "{fit:?}");
        assert!(close(fit.lambda, 50.0, 1e-4), "{fit:?}");
        assert_eq!(fit.peak_concurrency, None);
        assert!(close(fit.peak_throughput, 50.0 / 0.08, 1e-3), "{fit:?}");
        assert_eq!(fit.poor(), None, "{fit:?}");
    }

    #[test]
    fn a_noisy_amdahl_curve_still_fits_well() {
        let points = curve(0.08, 0.0, 50.0, &SPREAD, two_percent);
        let fit = fit(&points).unwrap();
        assert!(fit.r2 >= 0.99, "{fit:?}");
        assert!((fit.sigma - 0.08).abs() < 0.02, "{fit:?}");
        assert!(fit.kappa < 1e-4, "{fit:?}");
        // Noise may pull κ a little below 0; that does not make the fit untrustworthy.
        assert_eq!(fit.poor(), None, "{fit:?}");
    }

    #[test]
    fn the_fit_is_deterministic() {
        let points = curve(0.03, 0.0008, 250.0, &SPREAD, two_percent);
        assert_eq!(fit(&points), fit(&points));
    }

    #[test]
    fn fewer_than_three_usable_points_give_no_fit() {
        assert_eq!(fit(&[]), None);
        assert_eq!(fit(&[(1.0, 10.0), (2.0, 19.0)]), None);
        // Three points, but two at the same concurrency, or one with N = 0.
        assert_eq!(fit(&[(1.0, 10.0), (2.0, 19.0), (2.0, 18.0)]), None);
        assert_eq!(fit(&[(0.0, 0.0), (1.0, 10.0), (2.0, 19.0)]), None);
        // Nothing served at all.
        assert_eq!(fit(&[(1.0, 0.0), (2.0, 0.0), (3.0, 0.0)]), None);
    }

    #[test]
    fn a_value_that_is_not_finite_gives_no_fit() {
        let mut points = curve(0.05, 0.0005, 100.0, &SPREAD, |_| 0.0);
        points[3].1 = f64::NAN;
        assert_eq!(fit(&points), None);
        points[3] = (f64::INFINITY, 10.0);
        assert_eq!(fit(&points), None);
    }

    #[test]
    fn a_scattered_cloud_is_called_a_poor_fit() {
        let points: Vec<(f64, f64)> = SPREAD
            .iter()
            .enumerate()
            .map(|(i, &n)| (n, if i % 2 == 0 { 100.0 } else { 400.0 }))
            .collect();
        let fit = fit(&points).unwrap();
        assert!(fit.r2 < 0.9, "{fit:?}");
        let sentence = fit.poor().unwrap();
        assert!(
            sentence.starts_with("the USL fits poorly (R² "),
            "{sentence}"
        );
        assert!(sentence.ends_with("the measured curve, not the fit, is the answer"));
    }

    #[test]
    fn a_peak_far_beyond_the_measured_range_is_not_trusted() {
        // Only the rising start of a curve that peaks at N ≈ 316: measured up to 40.
        let ns = [2.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 40.0];
        let fit = fit(&curve(0.0, 0.00001, 10.0, &ns, |_| 0.0)).unwrap();
        assert!(fit.peak_concurrency.unwrap() > 200.0, "{fit:?}");
        assert!(
            fit.poor().unwrap().contains("far beyond"),
            "{:?}",
            fit.poor()
        );
    }

    #[test]
    fn superlinear_scaling_is_held_at_a_bound_and_named() {
        // X = N²: better than linear, which no σ, κ ≥ 0 can draw.
        let points: Vec<(f64, f64)> = SPREAD.iter().map(|&n| (n, n * n)).collect();
        let fit = fit(&points).unwrap();
        assert!(fit.at_bound.as_ref().unwrap().contains("σ below 0"));
        assert!(fit
            .poor()
            .unwrap()
            .contains("does not describe this system"));
    }

    #[test]
    fn throughput_flat_from_the_start_is_held_at_sigma_one() {
        let points: Vec<(f64, f64)> = SPREAD.iter().map(|&n| (n, 70.0)).collect();
        let fit = fit(&points).unwrap();
        assert_eq!(fit.sigma, 1.0, "{fit:?}");
        assert!(close(fit.peak_throughput, 70.0, 1e-6), "{fit:?}");
        assert!(fit.poor().is_some());
    }

    #[test]
    fn few_points_are_not_trusted_even_when_they_fit() {
        let fit = fit(&curve(0.05, 0.0005, 100.0, &[10.0, 40.0, 70.0], |_| 0.0)).unwrap();
        assert!(fit.r2 > 0.999, "{fit:?}");
        assert!(
            fit.poor().unwrap().contains("only 3 points"),
            "{:?}",
            fit.poor()
        );
    }
}
