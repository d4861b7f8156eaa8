//! Softplus and its gradient. Every element type is evaluated in f64 and rounded once: f32/f16
//! with the vectorizable exp/log1p of [`crate::math::Narrow`] (the f64 value is within 2^−35
//! relative of exact, so the rounded result is within 1 ULP; measured 0.5001), f64 with libm's
//! ([`crate::math::Libm`], within 2 ULP), for every x including those whose result is subnormal. β = 1 takes a specialised loop
//! without the product and the division.

use super::elementwise::{map_binary, map_unary, BinaryOp, UnaryOp};
use crate::element::Float;
use crate::math::{self, Libm, Narrow};
use half::f16;

/// softplus with fixed β and threshold as an elementwise operation; `SCALED = false` requires β = 1.
pub struct Softplus<const SCALED: bool> {
    pub beta: f64,
    pub threshold: f64,
}

/// How each element type evaluates softplus at β = 1: `x` where `x > threshold`.
pub trait SoftplusElement: Float {
    fn softplus_unit(self, threshold: f64) -> Self;
}

/// The largest f32 at or below `v` (−∞ below −f32::MAX, NaN for NaN): for f32 `x`,
/// `x > v` exactly when `x > f32_at_or_below(v)`, so the comparison stays in f32 lanes.
#[inline(always)]
fn f32_at_or_below(v: f64) -> f32 {
    let nearest = v as f32;
    if (nearest as f64) > v {
        // the f32 below `nearest` (> −∞, not NaN); `f32::next_down` needs Rust 1.86
        let bits = nearest.to_bits();
        if nearest == 0.0 {
            -f32::from_bits(1)
        } else if nearest > 0.0 {
            f32::from_bits(bits - 1)
        } else {
            f32::from_bits(bits + 1)
        }
    } else {
        nearest
    }
}

impl SoftplusElement for f32 {
    /// In f32 arithmetic, eight lanes per AVX2 vector: [`math::softplus_f32`].
    #[inline(always)]
    fn softplus_unit(self, threshold: f64) -> f32 {
        let y = math::softplus_f32(self);
        if self > f32_at_or_below(threshold) {
            self
        } else {
            y
        }
    }
}

impl SoftplusElement for f64 {
    #[inline(always)]
    fn softplus_unit(self, threshold: f64) -> f64 {
        math::softplus::<Libm, false>(self, 1.0, threshold)
    }
}

impl SoftplusElement for f16 {
    #[inline(always)]
    fn softplus_unit(self, threshold: f64) -> f16 {
        f16::from_f64(math::softplus::<Narrow, false>(
            self.to_f64(),
            1.0,
            threshold,
        ))
    }
}

impl<T: SoftplusElement> UnaryOp<T> for Softplus<false> {
    /// Measured (AVX2, f32, one thread): ~2.3 ns per element against relu's ~0.13 ns.
    const COST: usize = 20;
    #[inline(always)]
    fn apply(&self, x: T) -> T {
        x.softplus_unit(self.threshold)
    }
}

impl<T: Float> UnaryOp<T> for Softplus<true> {
    /// Measured (AVX2, f32, one thread): ~5.4 ns per element against relu's ~0.13 ns.
    const COST: usize = 40;
    #[inline(always)]
    fn apply(&self, x: T) -> T {
        let v = x.to_f64();
        T::from_f64(if T::WIDE {
            math::softplus::<Libm, true>(v, self.beta, self.threshold)
        } else {
            math::softplus::<Narrow, true>(v, self.beta, self.threshold)
        })
    }
}

/// softplus' · grad with fixed β and threshold; `SCALED = false` requires β = 1.
pub struct SoftplusGrad<const SCALED: bool> {
    pub beta: f64,
    pub threshold: f64,
}

impl<T: Float, const SCALED: bool> BinaryOp<T> for SoftplusGrad<SCALED> {
    /// Measured (AVX2, f32, one thread): ~2.5 ns per element.
    const COST: usize = 20;
    #[inline(always)]
    fn apply(&self, grad: T, x: T) -> T {
        let (g, v) = (grad.to_f64(), x.to_f64());
        T::from_f64(if T::WIDE {
            math::softplus_grad::<Libm, SCALED>(g, v, self.beta, self.threshold)
        } else {
            math::softplus_grad::<Narrow, SCALED>(g, v, self.beta, self.threshold)
        })
    }
}

/// `out = softplus(x; beta, threshold)`; see [`math::softplus`]. `x = None` works in place.
#[inline(always)]
pub fn softplus<T: SoftplusElement>(x: Option<&[T]>, out: &mut [T], beta: f64, threshold: f64) {
    if beta == 1.0 {
        map_unary(&Softplus::<false> { beta, threshold }, x, out);
    } else {
        map_unary(&Softplus::<true> { beta, threshold }, x, out);
    }
}

/// `out = grad·σ(beta·x)` (`grad` where beta·x > threshold); see [`math::softplus_grad`].
#[inline(always)]
pub fn softplus_grad<T: Float>(
    grad: Option<&[T]>,
    x: Option<&[T]>,
    out: &mut [T],
    beta: f64,
    threshold: f64,
) {
    if beta == 1.0 {
        map_binary(&SoftplusGrad::<false> { beta, threshold }, grad, x, out);
    } else {
        map_binary(&SoftplusGrad::<true> { beta, threshold }, grad, x, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_at_beta_1_takes_the_f32_evaluation_and_the_exact_cutoff() {
        let x: Vec<f32> = (-200..200).map(|i| i as f32 * 0.37).collect();
        let mut out = vec![0.0f32; x.len()];
        softplus(Some(&x), &mut out, 1.0, f64::INFINITY);
        for (&o, &v) in out.iter().zip(&x) {
            assert_eq!(o.to_bits(), math::softplus_f32(v).to_bits());
        }
        // a threshold between two f32: the cutoff is x > threshold, compared exactly
        let above = f32::from_bits(5.0f32.to_bits() + 1);
        let x = [5.0f32, above, -1.0, f32::NAN];
        let mut out = [0.0f32; 4];
        softplus(Some(&x), &mut out, 1.0, 5.000_000_01);
        assert_eq!(out[0], math::softplus_f32(5.0));
        assert_eq!(out[1], above);
        assert_eq!(out[2], math::softplus_f32(-1.0));
        assert!(out[3].is_nan());
        assert_eq!(f32_at_or_below(5.000_000_01), 5.0);
        assert_eq!(f32_at_or_below(-1e300), f32::NEG_INFINITY);
        assert_eq!(f32_at_or_below(1e300), f32::MAX);
        assert_eq!(f32_at_or_below(f64::INFINITY), f32::INFINITY);
        assert!(f32_at_or_below(f64::NAN).is_nan());
        assert_eq!(f32_at_or_below(-1e-50), -f32::from_bits(1));
        assert_eq!(f32_at_or_below(-1.000_000_01), -1.000_000_1);
    }

    #[test]
    fn f32_sigmoid_is_the_f64_value_rounded_once() {
        let x: Vec<f32> = (-200..200).map(|i| i as f32 * 0.37).collect();
        let mut out = vec![0.0f32; x.len()];
        let g = vec![2.0f32; x.len()];
        softplus_grad(Some(&g), Some(&x), &mut out, 1.0, f64::INFINITY);
        for (&o, &v) in out.iter().zip(&x) {
            assert_eq!(
                o,
                (2.0 * math::sigmoid::<Narrow, false>(v as f64, 1.0)) as f32
            );
        }
    }
}

#[cfg(test)]
mod wide_tests {
    use super::*;

    #[test]
    fn f64_takes_the_libm_build() {
        let x = -3.2472472472472447f64;
        let op = Softplus::<true> {
            beta: 10.0,
            threshold: f64::INFINITY,
        };
        let got: f64 = UnaryOp::<f64>::apply(&op, x);
        assert_eq!(got, math::softplus::<Libm, true>(x, 10.0, f64::INFINITY));
    }
}
