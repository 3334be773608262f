//! A rate curve: relative arrival rate at points of the scenario's clock, linear between them.

/// Piecewise-linear arrival rate over `[0, span]` seconds of scenario time.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// `(seconds from the curve's start, rate)`, times strictly increasing, rates ≥ 0.
    points: Vec<(f64, f64)>,
    /// Area under the curve up to each point.
    cumulative: Vec<f64>,
}

impl Curve {
    /// A curve through `points`; `None` unless there are at least two points, times strictly
    /// increase from 0, rates are finite and ≥ 0, and the area is above 0.
    pub fn new(points: Vec<(f64, f64)>) -> Option<Curve> {
        let valid = points.len() >= 2
            && points[0].0 == 0.0
            && points.windows(2).all(|w| w[1].0 > w[0].0)
            && points
                .iter()
                .all(|(t, r)| t.is_finite() && r.is_finite() && *r >= 0.0);
        if !valid {
            return None;
        }
        let mut cumulative = vec![0.0];
        for w in points.windows(2) {
            let area = (w[1].0 - w[0].0) * (w[0].1 + w[1].1) / 2.0;
            cumulative.push(cumulative.last().copied().unwrap_or(0.0) + area);
        }
        let curve = Curve { points, cumulative };
        (curve.area() > 0.0).then_some(curve)
    }

    /// A constant rate over `span` seconds.
    pub fn flat(span: f64) -> Option<Curve> {
        Curve::new(vec![(0.0, 1.0), (span, 1.0)])
    }

    /// Length in seconds of scenario time.
    pub fn span(&self) -> f64 {
        self.points.last().map_or(0.0, |p| p.0)
    }

    /// Area under the curve: the number of arrivals if rates are per second.
    pub fn area(&self) -> f64 {
        self.cumulative.last().copied().unwrap_or(0.0)
    }

    /// Highest rate anywhere on the curve.
    pub fn peak(&self) -> f64 {
        self.points.iter().map(|p| p.1).fold(0.0, f64::max)
    }

    /// Rate at `t` seconds (0 outside the curve).
    pub fn rate_at(&self, t: f64) -> f64 {
        if !(0.0..=self.span()).contains(&t) {
            return 0.0;
        }
        let i = self.segment_containing_time(t);
        let ((t0, r0), (t1, r1)) = (self.points[i], self.points[i + 1]);
        r0 + (r1 - r0) * (t - t0) / (t1 - t0)
    }

    /// The time by which `fraction` (0 to 1) of the area has passed: the inverse of the
    /// cumulative distribution of arrivals.
    pub fn time_at_fraction(&self, fraction: f64) -> f64 {
        let wanted = fraction.clamp(0.0, 1.0) * self.area();
        // The segment whose cumulative area range holds `wanted`; zero-area segments are skipped.
        let i = match self.cumulative.binary_search_by(|c| c.total_cmp(&wanted)) {
            Ok(i) => return self.points[i].0,
            Err(i) => i.saturating_sub(1).min(self.points.len() - 2),
        };
        let ((t0, r0), (t1, r1)) = (self.points[i], self.points[i + 1]);
        let area = wanted - self.cumulative[i];
        let slope = (r1 - r0) / (t1 - t0);
        // Solve r0·x + slope·x²/2 = area; this form stays exact when slope is ~0.
        let root = (r0 * r0 + 2.0 * slope * area).max(0.0).sqrt();
        let x = if r0 + root > 0.0 {
            2.0 * area / (r0 + root)
        } else {
            0.0
        };
        (t0 + x).min(t1)
    }

    fn segment_containing_time(&self, t: f64) -> usize {
        let i = self.points.partition_point(|p| p.0 <= t);
        i.saturating_sub(1).min(self.points.len() - 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_curve_spreads_evenly() {
        let curve = Curve::flat(100.0).unwrap();
        assert_eq!(curve.area(), 100.0);
        for f in [0.0, 0.1, 0.5, 0.99, 1.0] {
            assert!((curve.time_at_fraction(f) - 100.0 * f).abs() < 1e-9);
        }
    }

    #[test]
    fn ramp_puts_more_arrivals_late() {
        // Rate rises linearly from 0 to 10 over 10 s: half the arrivals come after t = 10/√2.
        let curve = Curve::new(vec![(0.0, 0.0), (10.0, 10.0)]).unwrap();
        assert_eq!(curve.area(), 50.0);
        let median = curve.time_at_fraction(0.5);
        assert!((median - 10.0 / 2f64.sqrt()).abs() < 1e-9, "{median}");
        assert!((curve.rate_at(2.5) - 2.5).abs() < 1e-12);
    }

    #[test]
    fn inverse_matches_area_on_a_morning_shape() {
        let curve = Curve::new(vec![
            (0.0, 1.0),
            (100.0, 1.0),
            (150.0, 9.0),
            (200.0, 4.0),
            (210.0, 0.0),
        ])
        .unwrap();
        for k in 1..100 {
            let f = k as f64 / 100.0;
            let t = curve.time_at_fraction(f);
            // Numerically integrate the rate up to t and compare with the fraction asked for.
            let steps = 20_000;
            let dt = t / steps as f64;
            let area: f64 = (0..steps)
                .map(|i| curve.rate_at((i as f64 + 0.5) * dt) * dt)
                .sum();
            assert!(
                (area / curve.area() - f).abs() < 1e-4,
                "fraction {f}: t {t}, area {area}"
            );
        }
    }

    #[test]
    fn zero_rate_stretches_get_no_arrivals() {
        let curve = Curve::new(vec![(0.0, 0.0), (50.0, 0.0), (60.0, 2.0), (70.0, 0.0)]).unwrap();
        assert!(curve.time_at_fraction(0.0001) > 50.0);
        assert!(curve.time_at_fraction(0.9999) < 70.0);
    }

    #[test]
    fn bad_curves_are_refused() {
        assert!(Curve::new(vec![(0.0, 1.0)]).is_none());
        assert!(Curve::new(vec![(0.0, 1.0), (0.0, 2.0)]).is_none());
        assert!(Curve::new(vec![(0.0, 0.0), (10.0, 0.0)]).is_none());
        assert!(Curve::new(vec![(0.0, -1.0), (10.0, 2.0)]).is_none());
        assert!(Curve::new(vec![(5.0, 1.0), (10.0, 2.0)]).is_none());
    }
}
