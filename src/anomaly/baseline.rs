//! An exponentially weighted mean and variance: two floats per signal, so a
//! baseline's memory is constant however long it runs.

/// EWMA of a signal's per-window value and of its squared deviation
/// (West's incremental form, stable for long runs).
#[derive(Debug, Clone, Copy)]
pub struct Ewma {
    alpha: f64,
    mean: f64,
    var: f64,
    samples: u64,
}

impl Ewma {
    /// `half_life` in windows: a window's weight halves after that many.
    pub fn new(half_life_windows: f64) -> Self {
        let h = half_life_windows.max(1.0);
        Self {
            alpha: 1.0 - 0.5f64.powf(1.0 / h),
            mean: 0.0,
            var: 0.0,
            samples: 0,
        }
    }

    pub fn update(&mut self, x: f64) {
        self.update_weighted(x, 1.0);
    }

    /// Learns `x` with `weight` (0..=1) times the usual step.
    pub fn update_weighted(&mut self, x: f64, weight: f64) {
        if !x.is_finite() {
            return;
        }
        if self.samples == 0 {
            self.mean = x;
            self.var = 0.0;
        } else {
            let alpha = self.alpha * weight.clamp(0.0, 1.0);
            let diff = x - self.mean;
            let incr = alpha * diff;
            self.mean += incr;
            self.var = (1.0 - alpha) * (self.var + diff * incr);
        }
        self.samples = self.samples.saturating_add(1);
    }

    pub fn mean(&self) -> f64 {
        self.mean
    }

    pub fn std_dev(&self) -> f64 {
        self.var.max(0.0).sqrt()
    }

    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// How far `x` is above the baseline, in standard deviations (0 when
    /// the variance is nil; the floor decides then).
    pub fn sigmas(&self, x: f64) -> f64 {
        let sd = self.std_dev();
        if sd > 0.0 { (x - self.mean) / sd } else { 0.0 }
    }

    /// Whether `x` is anomalous: above the mean by more than `sigmas`
    /// standard deviations *and* by more than the absolute `floor`. Only
    /// rises count: a drop in errors or latency is not an attack.
    pub fn exceeds(&self, x: f64, sigmas: f64, floor: f64) -> bool {
        let over = x - self.mean;
        over > floor && over > sigmas * self.std_dev()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converges_to_a_steady_mean_and_variance() {
        let mut e = Ewma::new(10.0);
        // Alternating 90/110: mean 100, standard deviation 10.
        for i in 0..2000 {
            e.update(if i % 2 == 0 { 90.0 } else { 110.0 });
        }
        assert!((e.mean() - 100.0).abs() < 1.5, "{}", e.mean());
        assert!((e.std_dev() - 10.0).abs() < 1.0, "{}", e.std_dev());
        assert!((e.sigmas(150.0) - 5.0).abs() < 0.6);
        assert!(e.exceeds(150.0, 4.0, 10.0));
        assert!(!e.exceeds(125.0, 4.0, 10.0), "2.5 sigma is normal");
        assert!(!e.exceeds(50.0, 4.0, 10.0), "drops never alert");
    }

    #[test]
    fn the_floor_keeps_an_idle_baseline_quiet() {
        let mut e = Ewma::new(10.0);
        for _ in 0..100 {
            e.update(1.0);
        }
        assert_eq!(e.std_dev(), 0.0);
        // Infinitely many sigmas, but under the absolute floor.
        assert!(!e.exceeds(5.0, 4.0, 10.0));
        assert!(e.exceeds(12.0, 4.0, 10.0));
    }

    #[test]
    fn half_life_sets_how_fast_it_forgets() {
        let mut e = Ewma::new(5.0);
        for _ in 0..100 {
            e.update(0.0);
        }
        for _ in 0..5 {
            e.update(100.0);
        }
        // After one half life the old level weighs half.
        assert!((e.mean() - 50.0).abs() < 0.01, "{}", e.mean());
        assert_eq!(e.samples(), 105);
    }

    #[test]
    fn non_finite_values_are_ignored() {
        let mut e = Ewma::new(3.0);
        e.update(f64::NAN);
        e.update(f64::INFINITY);
        assert_eq!(e.samples(), 0);
        e.update(2.0);
        assert_eq!(e.mean(), 2.0);
    }
}
