//! Compensated (Neumaier) sums, one or N lanes at a time: PReLU's α-gradient adds in them.

/// A Neumaier (improved Kahan–Babuška) compensated sum: the error of n additions is about one
/// rounding of the total plus n·ε² of the terms' magnitudes, instead of n·ε. Adding terms in a fixed
/// order gives a fixed result. Non-finite terms propagate as in a plain sum (the compensation is
/// dropped once the sum is not finite).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CompensatedSum {
    sum: f64,
    compensation: f64,
}

/// One Neumaier step on a (sum, compensation) pair; branch-free (a select), so loops over
/// independent pairs vectorize.
#[inline(always)]
fn neumaier_add(sum: &mut f64, compensation: &mut f64, term: f64) {
    let t = *sum + term;
    let lost = if sum.abs() >= term.abs() {
        (*sum - t) + term
    } else {
        (term - t) + *sum
    };
    *compensation += lost;
    *sum = t;
}

impl CompensatedSum {
    #[inline(always)]
    pub fn add(&mut self, term: f64) {
        neumaier_add(&mut self.sum, &mut self.compensation, term);
    }

    /// Add `term` without compensation: for terms that are exact and few per partial sum (f16/f32
    /// products in f64), where a plain add loses nothing that matters and vectorizes.
    #[inline(always)]
    pub fn add_plain(&mut self, term: f64) {
        self.sum += term;
    }

    /// Add another partial sum (its compensation included). Branch-free (a select), so a loop
    /// merging arrays of partial sums vectorizes.
    #[inline(always)]
    pub fn merge(&mut self, other: &CompensatedSum) {
        self.add(other.sum);
        // a non-finite partial's compensation is NaN or meaningless; adding +0 changes nothing
        // (the sum is never −0: it starts at +0, and x + (−0) = x)
        let compensation = if other.sum.is_finite() {
            other.compensation
        } else {
            0.0
        };
        self.add(compensation);
    }

    #[inline(always)]
    pub fn value(&self) -> f64 {
        if self.sum.is_finite() {
            self.sum + self.compensation
        } else {
            self.sum
        }
    }
}

/// `N` independent compensated sums in struct-of-arrays form, so that adding one term to each
/// lane is a vector operation. Lane `l` receives the terms at positions ≡ l (mod N) of a run, and
/// [`CompensatedLanes::merge_into`] combines the lanes in lane order: a fixed order, so the
/// result depends only on the terms and their positions.
#[derive(Clone, Copy, Debug)]
pub struct CompensatedLanes<const N: usize> {
    sums: [f64; N],
    compensations: [f64; N],
}

impl<const N: usize> Default for CompensatedLanes<N> {
    fn default() -> Self {
        Self {
            sums: [0.0; N],
            compensations: [0.0; N],
        }
    }
}

impl<const N: usize> CompensatedLanes<N> {
    /// Add `terms[l]` to lane `l`, for every lane.
    #[inline(always)]
    pub fn add(&mut self, terms: [f64; N]) {
        for ((s, c), t) in self.sums.iter_mut().zip(&mut self.compensations).zip(terms) {
            neumaier_add(s, c, t);
        }
    }

    /// Merge every lane, in lane order, into `total`.
    #[inline(always)]
    pub fn merge_into(&self, total: &mut CompensatedSum) {
        for l in 0..N {
            total.merge(&CompensatedSum {
                sum: self.sums[l],
                compensation: self.compensations[l],
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{CompensatedLanes, CompensatedSum};

    #[test]
    fn lanes_agree_with_one_sum() {
        let terms: Vec<f64> = (0..1000)
            .map(|i| ((i * 7919) % 1013) as f64 * 1e-3 - 0.5)
            .collect();
        let mut one = CompensatedSum::default();
        terms.iter().for_each(|&t| one.add(t));
        let mut lanes = CompensatedLanes::<8>::default();
        for c in terms.chunks_exact(8) {
            lanes.add(c.try_into().unwrap());
        }
        let mut total = CompensatedSum::default();
        lanes.merge_into(&mut total);
        assert!((total.value() - one.value()).abs() <= 1e-15 * one.value().abs().max(1.0));
    }

    #[test]
    fn compensated_sum_recovers_cancelled_bits() {
        let mut s = CompensatedSum::default();
        for t in [1e16, 1.0, -1e16, 1.0] {
            s.add(t);
        }
        assert_eq!(s.value(), 2.0);
        let mut nan = CompensatedSum::default();
        nan.add(1.0);
        nan.add(f64::NAN);
        assert!(nan.value().is_nan());
        let mut inf = CompensatedSum::default();
        inf.add(f64::INFINITY);
        inf.add(1.0);
        assert_eq!(inf.value(), f64::INFINITY);
        // An overflowed partial leaves a non-finite compensation that must not leak into a merge.
        let mut big = CompensatedSum::default();
        big.add(f64::MAX);
        big.add(f64::MAX);
        big.add(1.0);
        let mut total = CompensatedSum::default();
        total.merge(&big);
        assert_eq!(total.value(), f64::INFINITY);
    }
}
