//! Softplus and its gradient, for every x including those whose result is subnormal.
//!
//! * β = 1 ([`SoftplusElement`]): evaluated in the element's own precision, f32 (eight lanes per
//!   AVX2 vector) or f64 (four), with the leading terms carried as exact pairs
//!   ([`math::softplus_native`], [`math::sigmoid_grad_native`]); f16 widens to f32 and rounds the
//!   f32 result to f16. Measured for f32 over all 2^32 inputs: softplus ≤ 0.741 ULP (0.774 for
//!   subnormal results), grad·σ ≤ 0.86 ULP (1.07 where the result is within 2^6 of the subnormal
//!   range); for f64 on 400K mpmath samples: ≤ 0.745 and ≤ 0.993 ULP.
//! * β ≠ 1: evaluated in f64 ([`math::softplus`], [`math::softplus_grad`]) and rounded once:
//!   f32/f16 with the vectorizable exp/log1p of [`crate::math::Vectorized`] (within 2^−35 relative,
//!   so the rounded result is within 1 ULP). f64 softplus as softplus(β·x)/β from the β = 1
//!   kernel's unrounded parts ([`math::softplus_scaled_native`]: ≤ 0.9 ULP measured), the gradient
//!   with libm's exp ([`crate::math::Libm`], within 2 ULP).

use super::elementwise::{BinaryOp, UnaryOp};
use crate::element::{bf16_to_f32, f16_to_f32, f32_to_bf16, f32_to_f16, Float, ReluElement};
use crate::math::{self, Libm, NativeFloat, Vectorized};
use half::{bf16, f16};

/// softplus at β = 1 with a fixed threshold, as an elementwise operation, in the element type's
/// own precision.
pub struct SoftplusUnit {
    pub threshold: f64,
}

/// softplus with any β and a fixed threshold, as an elementwise operation, in f64: f32 and f16
/// with [`Vectorized`], f64 in its own arithmetic ([`math::softplus_scaled_native`]) for β whose
/// reciprocal is normal, else with [`Libm`].
pub struct SoftplusScaled {
    pub beta: f64,
    pub threshold: f64,
    native: bool,
    /// |β·x| beyond which f64's result underflows (for the native build).
    limit: f64,
}

impl SoftplusScaled {
    pub fn new(beta: f64, threshold: f64) -> SoftplusScaled {
        let native = (2f64.powi(-1000)..=2f64.powi(1000)).contains(&beta);
        // softplus(z)/β ≈ e^z/β: for β < 1 it stays representable ln(1/β) further out
        let limit = <f64 as NativeFloat>::SOFTPLUS_LIMIT + (-beta.ln()).max(0.0);
        SoftplusScaled {
            beta,
            threshold,
            native,
            limit,
        }
    }
}

/// How each element type evaluates softplus at β = 1: `x` where `x > threshold`.
pub trait SoftplusElement: Float {
    fn softplus_unit(self, threshold: f64) -> Self;
    /// grad·σ(x), `grad` where `x > threshold`; `x` where x is NaN, and any other NaN result
    /// (a NaN grad, or ±∞·σ(−∞)) the canonical NaN.
    fn softplus_grad_unit(grad: Self, x: Self, threshold: f64) -> Self;
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
    /// In f32 arithmetic, eight lanes per AVX2 vector: [`math::softplus_native`].
    #[inline(always)]
    fn softplus_unit(self, threshold: f64) -> f32 {
        let y = math::softplus_native(self);
        if self > f32_at_or_below(threshold) || self.is_nan() {
            self
        } else {
            y
        }
    }

    /// [`math::sigmoid_grad_native`].
    #[inline(always)]
    fn softplus_grad_unit(grad: f32, x: f32, threshold: f64) -> f32 {
        let y = math::sigmoid_grad_native(grad, x);
        let y = if x > f32_at_or_below(threshold) {
            grad
        } else {
            y
        };
        if x.is_nan() {
            x
        } else {
            y.canonical()
        }
    }
}

impl SoftplusElement for f64 {
    /// In f64 arithmetic, four lanes per AVX2 vector: [`math::softplus_native`].
    #[inline(always)]
    fn softplus_unit(self, threshold: f64) -> f64 {
        let y = math::softplus_native(self);
        if self > threshold || self.is_nan() {
            self
        } else {
            y
        }
    }

    /// [`math::sigmoid_grad_native`].
    #[inline(always)]
    fn softplus_grad_unit(grad: f64, x: f64, threshold: f64) -> f64 {
        let y = math::sigmoid_grad_native(grad, x);
        let y = if x > threshold { grad } else { y };
        if x.is_nan() {
            x
        } else {
            y.canonical()
        }
    }
}

/// In f32 and rounded to f16, as the F16C block adapter ([`UnaryF16`]) does, so every SIMD path
/// gives the same bits. A NaN comes back as it was.
///
/// [`UnaryF16`]: super::elementwise::UnaryF16
impl SoftplusElement for f16 {
    #[inline(always)]
    fn softplus_unit(self, threshold: f64) -> f16 {
        let y = f16::from_bits(f32_to_f16(f32::softplus_unit(
            f16_to_f32(self.to_bits()),
            threshold,
        )));
        if ReluElement::is_nan(self) {
            self
        } else {
            y
        }
    }

    #[inline(always)]
    fn softplus_grad_unit(grad: f16, x: f16, threshold: f64) -> f16 {
        let y = f16::from_bits(f32_to_f16(f32::softplus_grad_unit(
            f16_to_f32(grad.to_bits()),
            f16_to_f32(x.to_bits()),
            threshold,
        )));
        if ReluElement::is_nan(x) {
            x
        } else {
            y
        }
    }
}

/// In f32 and rounded once to bf16: within 0.5 + 2⁻¹⁶ bf16-ULP of the f32 result's bound (≤ 0.78
/// f32-ULP), so ≤ 1 ULP (softplus) and ≤ 2 ULP (the gradient). A NaN comes back as it was.
impl SoftplusElement for bf16 {
    #[inline(always)]
    fn softplus_unit(self, threshold: f64) -> bf16 {
        let y = bf16::from_bits(f32_to_bf16(f32::softplus_unit(
            bf16_to_f32(self.to_bits()),
            threshold,
        )));
        if ReluElement::is_nan(self) {
            self
        } else {
            y
        }
    }

    #[inline(always)]
    fn softplus_grad_unit(grad: bf16, x: bf16, threshold: f64) -> bf16 {
        let y = bf16::from_bits(f32_to_bf16(f32::softplus_grad_unit(
            bf16_to_f32(grad.to_bits()),
            bf16_to_f32(x.to_bits()),
            threshold,
        )));
        if ReluElement::is_nan(x) {
            x
        } else {
            y
        }
    }
}

impl<T: SoftplusElement> UnaryOp<T> for SoftplusUnit {
    const STAGE_IN_PLACE: bool = true;
    /// ~2.3 ns per f32 element (AVX2, one thread) against relu's ~0.15.
    const COST: usize = 20;
    #[inline(always)]
    fn apply(&self, x: T) -> T {
        x.softplus_unit(self.threshold)
    }
}

impl<T: Float> UnaryOp<T> for SoftplusScaled {
    const STAGE_IN_PLACE: bool = true;
    /// ~5.4 ns per f32 element (AVX2, one thread).
    const COST: usize = 40;
    #[inline(always)]
    fn apply(&self, x: T) -> T {
        let v = x.to_f64();
        let y = T::from_f64(if !T::IS_F64 {
            math::softplus::<Vectorized, true>(v, self.beta, self.threshold)
        } else if self.native {
            let y = math::softplus_scaled_native(v, self.beta, 1.0 / self.beta, self.limit);
            if self.beta * v > self.threshold {
                v
            } else {
                y
            }
        } else {
            math::softplus::<Libm, true>(v, self.beta, self.threshold)
        });
        if x.is_nan() {
            x
        } else {
            y
        }
    }
}

/// softplus' · grad at β = 1 with a fixed threshold, in the element type's own precision.
pub struct SoftplusGradUnit {
    pub threshold: f64,
}

/// softplus' · grad with any β and a fixed threshold, in f64.
pub struct SoftplusGradScaled {
    pub beta: f64,
    pub threshold: f64,
}

impl<T: SoftplusElement> BinaryOp<T> for SoftplusGradUnit {
    const STAGE_IN_PLACE: bool = true;
    /// ~1.5 ns per f32 element (AVX2, one thread).
    const COST: usize = 8;
    #[inline(always)]
    fn apply(&self, grad: T, x: T) -> T {
        T::softplus_grad_unit(grad, x, self.threshold)
    }
}

impl<T: Float> BinaryOp<T> for SoftplusGradScaled {
    const STAGE_IN_PLACE: bool = true;
    /// ~2.5 ns per f32 element (AVX2, one thread).
    const COST: usize = 20;
    #[inline(always)]
    fn apply(&self, grad: T, x: T) -> T {
        let (g, v) = (grad.to_f64(), x.to_f64());
        let y = if T::IS_F64 {
            math::softplus_grad::<Libm, true>(g, v, self.beta, self.threshold)
        } else {
            math::softplus_grad::<Vectorized, true>(g, v, self.beta, self.threshold)
        };
        gradient_in(y, g, x)
    }
}

/// grad·σ computed in f64 (`y`, from `g` and the input `v` as f64) as an element of `T`: an
/// infinite grad whose product is NaN gives ±∞ (σ > 0 for every finite input, even where it
/// underflows f64: ∞·0 is an artefact), any other NaN is the canonical one, and a NaN input
/// comes back as it was.
#[inline(always)]
fn gradient_in<T: Float>(y: f64, g: f64, input: T) -> T {
    let y = if y.is_nan() && g.is_infinite() && input.to_f64().is_finite() {
        g
    } else {
        y
    };
    if input.is_nan() {
        input
    } else {
        T::from_f64(y.canonical())
    }
}

/// softplus' · grad from softplus's output y instead of its input: grad·(1 − e^(−β·y))
/// ([`math::sigmoid_from_softplus`]); `grad` where β·y > threshold. In f64, rounded once.
///
/// Bound (for y from relu_rs's softplus of x, y normal): y's relative error carries over to σ at
/// most once (the condition number βy·e^(−βy)/(1 − e^(−βy)) is below 1), and one ULP of y is at
/// most two of σ, so the result is within 2·(y's ULP error) + 0.5 + ε ULP of grad·σ(β·x): the
/// evaluation adds below 2^−30 relative (f32/f16), or libm's expm1 (f64).
pub struct SoftplusGradFromOutput {
    pub beta: f64,
    pub threshold: f64,
}

impl<T: Float> BinaryOp<T> for SoftplusGradFromOutput {
    const STAGE_IN_PLACE: bool = true;
    const COST: usize = 20;
    #[inline(always)]
    fn apply(&self, grad: T, y: T) -> T {
        let (g, v) = (grad.to_f64(), y.to_f64());
        let s = match (T::IS_F64, self.beta == 1.0) {
            (true, true) => math::sigmoid_from_softplus::<Libm, false>(v, 1.0),
            (true, false) => math::sigmoid_from_softplus::<Libm, true>(v, self.beta),
            (false, true) => math::sigmoid_from_softplus::<Vectorized, false>(v, 1.0),
            (false, false) => math::sigmoid_from_softplus::<Vectorized, true>(v, self.beta),
        };
        let r = if self.beta * v > self.threshold {
            g
        } else {
            g * s
        };
        // a finite y could come from a finite x, where σ > 0
        gradient_in(r, g, y)
    }
}

/// `out = softplus(x; beta, threshold)`; see [`math::softplus`]. `x = None` works in place.
#[cfg(test)]
#[inline(always)]
pub fn softplus<T: SoftplusElement>(x: Option<&[T]>, out: &mut [T], beta: f64, threshold: f64) {
    if beta == 1.0 {
        super::elementwise::map_unary(&SoftplusUnit { threshold }, x, out);
    } else {
        super::elementwise::map_unary(&SoftplusScaled::new(beta, threshold), x, out);
    }
}

/// `out = grad·σ(beta·x)` (`grad` where beta·x > threshold); see [`math::softplus_grad`].
#[cfg(test)]
#[inline(always)]
pub fn softplus_grad<T: SoftplusElement>(
    grad: Option<&[T]>,
    x: Option<&[T]>,
    out: &mut [T],
    beta: f64,
    threshold: f64,
) {
    if beta == 1.0 {
        super::elementwise::map_binary(&SoftplusGradUnit { threshold }, grad, x, out);
    } else {
        super::elementwise::map_binary(&SoftplusGradScaled { beta, threshold }, grad, x, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The staged in-place loops give the out-of-place bits, at lengths around the staging step,
    /// with values on both sides of the threshold, NaN and infinities, for β = 1 and β ≠ 1.
    #[test]
    fn in_place_bits_match_out_of_place() {
        let specials = [
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            -0.0,
            25.0,
            -30.0,
        ];
        for beta in [1.0, 2.5] {
            for n in [0usize, 1, 255, 256, 257, 600] {
                let x: Vec<f32> = (0..n)
                    .map(|i| match i % 9 {
                        k @ 0..=5 => specials[k],
                        k => (i as f32 * 0.61).sin() * 8.0 * k as f32,
                    })
                    .collect();
                let g: Vec<f32> = x.iter().rev().map(|v| v * 0.5 - 1.0).collect();
                let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                let mut want = vec![0.0f32; n];
                softplus(Some(&x), &mut want, beta, 20.0);
                let mut got = x.clone();
                softplus(None, &mut got, beta, 20.0);
                assert_eq!(bits(&got), bits(&want), "softplus, beta {beta}, n {n}");
                softplus_grad(Some(&g), Some(&x), &mut want, beta, 20.0);
                let mut got = g.clone();
                softplus_grad(None, Some(&x), &mut got, beta, 20.0);
                assert_eq!(bits(&got), bits(&want), "grad on grad, beta {beta}, n {n}");
                let mut got = x.clone();
                softplus_grad(Some(&g), None, &mut got, beta, 20.0);
                assert_eq!(bits(&got), bits(&want), "grad on x, beta {beta}, n {n}");
            }
        }
    }

    #[test]
    fn f32_at_beta_1_takes_the_f32_evaluation_and_the_exact_cutoff() {
        let x: Vec<f32> = (-200..200).map(|i| i as f32 * 0.37).collect();
        let mut out = vec![0.0f32; x.len()];
        softplus(Some(&x), &mut out, 1.0, f64::INFINITY);
        for (&o, &v) in out.iter().zip(&x) {
            assert_eq!(o.to_bits(), math::softplus_native(v).to_bits());
        }
        // a threshold between two f32: the cutoff is x > threshold, compared exactly
        let above = f32::from_bits(5.0f32.to_bits() + 1);
        let x = [5.0f32, above, -1.0, f32::NAN];
        let mut out = [0.0f32; 4];
        softplus(Some(&x), &mut out, 1.0, 5.000_000_01);
        assert_eq!(out[0], math::softplus_native(5.0));
        assert_eq!(out[1], above);
        assert_eq!(out[2], math::softplus_native(-1.0));
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
    fn f32_grad_at_beta_1_takes_the_f32_evaluation() {
        let x: Vec<f32> = (-200..200).map(|i| i as f32 * 0.37).collect();
        let g: Vec<f32> = (0..400).map(|i| (i as f32 * 0.61).sin() * 3.0).collect();
        let mut out = vec![0.0f32; x.len()];
        softplus_grad(Some(&g), Some(&x), &mut out, 1.0, 20.0);
        for ((&o, &v), &gv) in out.iter().zip(&x).zip(&g) {
            let want = if v > 20.0 {
                gv
            } else {
                math::sigmoid_grad_native(gv, v)
            };
            assert_eq!(o.to_bits(), want.to_bits());
        }
    }

    #[test]
    fn f64_grad_special_values() {
        let inf = f64::INFINITY;
        let grad_sigmoid = |g: f64, x: f64| {
            let mut out = [0.0f64];
            softplus_grad(Some(&[g]), Some(&[x]), &mut out, 1.0, f64::INFINITY);
            out[0]
        };
        assert_eq!(grad_sigmoid(inf, inf), inf);
        assert!(grad_sigmoid(inf, -inf).is_nan());
        assert_eq!(grad_sigmoid(2.0, -inf), 0.0);
        assert!(grad_sigmoid(1.0, f64::NAN).is_nan());
        // 1e300·e^−1000 ≈ 5.1e−135: far below where σ alone underflows
        let got = grad_sigmoid(1e300, -1000.0);
        let want = 1e300 * (-500f64).exp() * (-500f64).exp();
        assert!(
            (got - want).abs() <= 4.0 * f64::EPSILON * want,
            "{got:e} vs {want:e}"
        );
        let mut out = [0.0f64; 3];
        softplus(Some(&[-inf, inf, -800.0]), &mut out, 1.0, f64::INFINITY);
        assert_eq!(out, [0.0, inf, 0.0]);
    }

    #[test]
    fn f32_grad_special_values() {
        let inf = f32::INFINITY;
        let grad_sigmoid = |g: f32, x: f32| {
            let mut out = [0.0f32];
            softplus_grad(Some(&[g]), Some(&[x]), &mut out, 1.0, f64::INFINITY);
            out[0]
        };
        assert_eq!(grad_sigmoid(inf, inf), inf);
        assert_eq!(grad_sigmoid(-inf, 30.0), -inf);
        assert!(grad_sigmoid(inf, -inf).is_nan()); // ∞·σ(−∞) = ∞·0
        assert_eq!(grad_sigmoid(2.0, -inf), 0.0);
        assert_eq!(grad_sigmoid(-2.0, inf), -2.0);
        assert!(grad_sigmoid(1.0, f32::NAN).is_nan());
        assert!(grad_sigmoid(f32::NAN, 1.0).is_nan());
        // a huge grad brings σ of a very negative x back into range: 3e38·e^−150 ≈ 2.1e−27
        let want = 3e38f64 * (-150f64).exp();
        let got = grad_sigmoid(3e38, -150.0) as f64;
        assert!(
            (got - want).abs() <= 2.0 * 2f64.powi(-23) * want,
            "{got:e} vs {want:e}"
        );
        let want = 1e30f64 * (-170f64).exp(); // subnormal
        let got = grad_sigmoid(1e30, -170.0) as f64;
        assert!(
            (got - want).abs() <= 2.0 * 2f64.powi(-149),
            "{got:e} vs {want:e}"
        );
    }
}

#[cfg(test)]
mod f64_tests {
    use super::*;

    /// f64 takes its own-arithmetic build where 1/β is normal, libm's beyond.
    #[test]
    fn f64_builds_by_beta() {
        let x = -3.2472472472472447f64;
        let inf = f64::INFINITY;
        let op = SoftplusScaled::new(10.0, inf);
        let got: f64 = UnaryOp::<f64>::apply(&op, x);
        let limit = <f64 as NativeFloat>::SOFTPLUS_LIMIT;
        assert_eq!(got, math::softplus_scaled_native(x, 10.0, 0.1, limit));
        for beta in [1e-310, 1e305] {
            let got: f64 = UnaryOp::<f64>::apply(&SoftplusScaled::new(beta, inf), x);
            assert_eq!(got, math::softplus::<Libm, true>(x, beta, inf));
        }
        // far out: x itself above, 0 below (β·x beyond every limit, or infinite); and the tail
        // e^(β·x)/β kept where β < 1 lifts it above the underflow of e^(β·x) alone
        for beta in [0.37, 3.0, 1e-300] {
            let op = SoftplusScaled::new(beta, inf);
            for x in [2e3 / beta, 7.3e306, f64::MAX] {
                let x = x.min(f64::MAX);
                assert_eq!(UnaryOp::<f64>::apply(&op, x), x, "beta {beta}, x {x:e}");
                assert_eq!(
                    UnaryOp::<f64>::apply(&op, -x),
                    0.0,
                    "beta {beta}, x {:e}",
                    -x
                );
            }
        }
        let tail: f64 = UnaryOp::<f64>::apply(&SoftplusScaled::new(1e-300, inf), -1e303);
        // e^−1000 alone underflows f64; e^(−1000 + 300·ln 10) (to ~2^−43 relative) does not
        let want = (300.0 * std::f64::consts::LN_10 - 1000.0).exp();
        assert!((tail - want).abs() < 1e-12 * want, "{tail:e} vs {want:e}");
    }
}
