//! Scalar softplus and sigmoid in f64, built so that nothing overflows and nothing cancels.
//!
//! Both take `z = β·x` as an unevaluated sum `z + dz` (`dz = fma(β, x, −z)`, the exact rounding
//! error of the product), so a β ≠ 1 does not add the product's rounding error, amplified by |z|,
//! to the result. The first-order correction uses σ(z)·dz, which is all that survives: |dz| ≤ ulp(z)/2.
//!
//! Measured bounds (see `tests/test_softplus.py`, mpmath reference): softplus ≤ 2 ULP in f64 and
//! its f32/f16 roundings ≤ 1 ULP; sigmoid·grad ≤ 2 ULP in f64.

/// `(z, dz)` with `z + dz = β·x` exactly (when `z` is finite); `dz = 0` if the product overflowed.
#[inline(always)]
pub fn scaled(beta: f64, x: f64) -> (f64, f64) {
    let z = beta * x;
    if beta == 1.0 || !z.is_finite() {
        (z, 0.0)
    } else {
        (z, beta.mul_add(x, -z))
    }
}

/// softplus(x; β) = log(1 + exp(β·x)) / β, with PyTorch's linear cutoff: `x` where β·x > `threshold`
/// (pass +∞ for no cutoff).
///
/// Written as `x + log1p(exp(−z))/β` for z > 0 and `log1p(exp(z))/β` for z ≤ 0, so exp never
/// overflows, large x return x exactly, and very negative x return the (possibly subnormal) tail
/// exp(z)/β instead of 0. softplus(−∞) = 0, softplus(+∞) = +∞, NaN → NaN.
#[inline(always)]
pub fn softplus(x: f64, beta: f64, threshold: f64) -> f64 {
    let (z, dz) = scaled(beta, x);
    if z > threshold || x.is_nan() {
        return x;
    }
    if z > 0.0 {
        let t = (-z).exp();
        // d/dz log1p(exp(−z)) = −t/(1+t)
        let tail = (-dz).mul_add(t / (1.0 + t), t.ln_1p());
        if beta == 1.0 {
            x + tail
        } else {
            x + tail / beta
        }
    } else {
        let t = z.exp();
        let s = dz.mul_add(t / (1.0 + t), t.ln_1p());
        if beta == 1.0 {
            s
        } else {
            s / beta
        }
    }
}

/// σ(β·x) = 1 / (1 + exp(−β·x)), evaluated as 1/(1+t) or t/(1+t) with t = exp(−|z|) ≤ 1, so it
/// never forms inf/inf. σ(−∞) = 0, σ(+∞) = 1, NaN → NaN.
#[inline(always)]
pub fn sigmoid_scaled(x: f64, beta: f64) -> f64 {
    let (z, dz) = scaled(beta, x);
    let t = (-z.abs()).exp();
    let d = 1.0 + t;
    let s = if z >= 0.0 { 1.0 / d } else { t / d };
    if dz == 0.0 {
        s
    } else {
        // σ'(z) = σ(1 − σ) = t/(1+t)²
        dz.mul_add(t / (d * d), s)
    }
}

/// softplus'(x; β)·grad = grad·σ(β·x); `grad` where β·x > `threshold`. NaN where x is NaN.
#[inline(always)]
pub fn softplus_grad(grad: f64, x: f64, beta: f64, threshold: f64) -> f64 {
    if beta * x > threshold {
        return grad;
    }
    grad * sigmoid_scaled(x, beta)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softplus_limits() {
        let inf = f64::INFINITY;
        assert_eq!(softplus(0.0, 1.0, inf), std::f64::consts::LN_2);
        assert_eq!(softplus(1000.0, 1.0, inf), 1000.0);
        assert_eq!(softplus(-inf, 1.0, inf), 0.0);
        assert_eq!(softplus(inf, 1.0, inf), inf);
        assert!(softplus(f64::NAN, 1.0, inf).is_nan());
        assert!(softplus(f64::NAN, 1.0, 20.0).is_nan());
        // exp(-740) is subnormal but not zero
        let tail = softplus(-740.0, 1.0, inf);
        assert!(tail > 0.0 && tail < f64::MIN_POSITIVE);
        // beta·x overflows, the answer is still x
        assert_eq!(softplus(1e308, 10.0, inf), 1e308);
        assert_eq!(softplus(-1e308, 10.0, inf), 0.0);
        // threshold: linear above it
        assert_eq!(softplus(21.0, 1.0, 20.0), 21.0);
    }

    #[test]
    fn sigmoid_limits() {
        assert_eq!(sigmoid_scaled(0.0, 1.0), 0.5);
        assert_eq!(sigmoid_scaled(f64::INFINITY, 1.0), 1.0);
        assert_eq!(sigmoid_scaled(f64::NEG_INFINITY, 1.0), 0.0);
        assert_eq!(sigmoid_scaled(1e308, 10.0), 1.0);
        assert!(sigmoid_scaled(f64::NAN, 1.0).is_nan());
        assert!(softplus_grad(1.0, f64::NAN, 1.0, 20.0).is_nan());
        assert_eq!(softplus_grad(3.0, 50.0, 1.0, 20.0), 3.0);
    }
}

/// A Neumaier (improved Kahan–Babuška) compensated sum: the error of n additions is about one
/// rounding of the total plus n·ε² of the terms' magnitudes, instead of n·ε. Adding terms in a fixed
/// order gives a fixed result. Non-finite terms propagate as in a plain sum (the compensation is
/// dropped once the sum is not finite).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CompensatedSum {
    sum: f64,
    compensation: f64,
}

impl CompensatedSum {
    #[inline(always)]
    pub fn add(&mut self, term: f64) {
        let t = self.sum + term;
        if self.sum.abs() >= term.abs() {
            self.compensation += (self.sum - t) + term;
        } else {
            self.compensation += (term - t) + self.sum;
        }
        self.sum = t;
    }

    /// Add another partial sum (its compensation included).
    #[inline(always)]
    pub fn merge(&mut self, other: &CompensatedSum) {
        self.add(other.sum);
        if other.sum.is_finite() {
            self.add(other.compensation);
        }
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

#[cfg(test)]
mod sum_tests {
    use super::CompensatedSum;

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
