//! Softplus and sigmoid, branch-free so the compiler vectorizes them for every SIMD path.
//!
//! **At β = 1** ([`softplus_native`], [`sigmoid_grad_native`], in `native.rs`): in the element's
//! own precision, f32 or f64, with the terms that decide the last bit carried as exact pairs.
//! Bounds are stated there.
//!
//! **f64 evaluation** (β ≠ 1): one formula, generic over where exp and log1p come
//! from ([`ExpLog1p`]):
//!
//! * [`Vectorized`]: this module's exp to 2^−36 (degree 9, Estrin) and log1p (≤ 1 ULP), branch-free,
//!   so the compiler vectorizes the whole formula for every SIMD path. Used for f32 and f16 at
//!   β ≠ 1, where the f64 value only needs ~2^−30 relative accuracy to round within 1 ULP.
//! * [`Libm`]: libm's exp and log1p (≤ 0.5 ULP), scalar calls. Used for f64 softplus_grad at
//!   β ≠ 1, where the bound below needs them, and for f64 softplus at β so extreme that 1/β is not
//!   normal (other β take `softplus_scaled_native`).
//!
//! Both take `z = β·x` as an unevaluated sum `z + dz` (`dz = fma(β, x, −z)`, the exact rounding
//! error of the product), so a β ≠ 1 does not add the product's rounding error, amplified by |z|,
//! to the result. The first-order correction uses σ(z)·dz, which is all that survives: |dz| ≤ ulp(z)/2.
//!
//! Measured bounds (`tests/test_softplus.py`, mpmath reference, every SIMD path): softplus ≤ 2 ULP
//! in f64 and ≤ 1 ULP after rounding to f32/f16; grad·sigmoid ≤ 2 ULP. Against the f64 (libm)
//! path over every 61st f32 bit pattern (70M values), this f32 evaluation is within 0.5001 ULP for
//! β = 3.

mod compensated;
pub mod double_double;
mod native;

pub use compensated::{CompensatedLanes, CompensatedSum};
pub use native::{sigmoid_grad_native, softplus_native, softplus_scaled_native, NativeFloat};

const LOG2_E: f64 = std::f64::consts::LOG2_E;
/// ln 2 split fdlibm-style (6.93147180369123816490e-01 + 1.90821492927058770002e-10): `LN2_HI`
/// has 32 significant bits, so `k·LN2_HI` is exact for |k| < 2^21.
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
/// 1.5·2^52: `(v + ROUND) − ROUND` rounds `v` to the nearest integer (|v| < 2^51).
const ROUND: f64 = 6_755_399_441_055_744.0;
/// 2^52 + 1023: adding it puts `n + 1023` in the low mantissa bits.
const POW2_BIAS: f64 = 4_503_599_627_371_519.0;

/// 2^n for an integer-valued `n` in [−1022, 1023], built from its bits (no libm, no branch).
#[inline(always)]
fn pow2i(n: f64) -> f64 {
    f64::from_bits((n + POW2_BIAS).to_bits() << 52)
}

/// `x` clamped to −746 (below it exp(x) rounds to 0) and k = round(x/ln 2), for the reductions.
#[inline(always)]
fn clamp_and_k(x: f64) -> (f64, f64) {
    let xc = if x < -746.0 { -746.0 } else { x };
    (xc, (xc * LOG2_E + ROUND) - ROUND)
}

/// p·2^k, with 2^k split into two normal factors so that a subnormal result is rounded once.
#[inline(always)]
fn scale_by_pow2(p: f64, k: f64) -> f64 {
    let k1 = (k * 0.5 + ROUND) - ROUND;
    p * pow2i(k1) * pow2i(k - k1)
}

const SQRT_2: f64 = std::f64::consts::SQRT_2;
// fdlibm's log polynomial in s = f/(2+f): |error| < 2^−58.45.
const LG1: f64 = f64::from_bits(0x3fe5_5555_5555_5593); // 6.666666666666735130e-01
const LG2: f64 = f64::from_bits(0x3fd9_9999_9997_fa04); // 3.999999999940941908e-01
const LG3: f64 = f64::from_bits(0x3fd2_4924_9422_9359); // 2.857142874366239149e-01
const LG4: f64 = f64::from_bits(0x3fcc_71c5_1d8e_78af); // 2.222219843214978396e-01
const LG5: f64 = f64::from_bits(0x3fc7_4664_96cb_03de); // 1.818357216161805012e-01
const LG6: f64 = f64::from_bits(0x3fc3_9a09_d078_c69f); // 1.531383769920937332e-01
const LG7: f64 = f64::from_bits(0x3fc2_f112_df3e_5244); // 1.479819860511658591e-01

/// log(1 + t) for t in [0, 1] (the range softplus needs: t = exp(−|z|)).
///
/// u = 1 + t is formed with its exact rounding error c (1 + t = u + c), reduced to
/// m = u or u/2 in [√2/2, √2], and log(m) evaluated as fdlibm does (f − hfsq + s·(hfsq + R(s²)));
/// then log1p(t) = k·ln2 + log(m) + c/u. Subnormal t returns t. < 1 ULP.
#[inline(always)]
pub fn log1p_unit(t: f64) -> f64 {
    let u = 1.0 + t;
    let c = t - (u - 1.0);
    let big = u > SQRT_2;
    let m = if big { u * 0.5 } else { u };
    let dk = if big { 1.0 } else { 0.0 };
    let f = m - 1.0;
    let hfsq = 0.5 * f * f;
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * w.mul_add(w.mul_add(LG6, LG4), LG2);
    let t2 = z * w.mul_add(w.mul_add(w.mul_add(LG7, LG5), LG3), LG1);
    let r = t2 + t1;
    let log_u = dk * LN2_HI - ((hfsq - (s * (hfsq + r) + dk * LN2_LO)) - f);
    log_u + c / u
}

/// ln 2 rounded to f64 (error < 2^−54): one FMA reduces x by k·ln 2 well enough for [`Vectorized`].
const LN2: f64 = std::f64::consts::LN_2;

/// exp(x) for x ≤ 0 to a relative error below 2^−36: enough for results rounded to f32 or f16.
///
/// x = k·ln2 + r with one FMA (|r| ≤ ln2/2; the error of ln 2 in f64 adds < 2^−44 for |k| ≤ 1077),
/// then the degree-9 Taylor polynomial of exp(r) (truncation < 2^−37) by Estrin's scheme (four
/// dependent steps instead of Horner's ten: the loop is latency-bound), then the same two-factor
/// scale (`scale_by_pow2`). x = −∞ gives 0, NaN gives NaN.
#[inline(always)]
pub fn exp_nonpositive_narrow(x: f64) -> f64 {
    let (xc, k) = clamp_and_k(x);
    let r = (-k).mul_add(LN2, xc);
    let r2 = r * r;
    let r4 = r2 * r2;
    let a0 = r + 1.0;
    let a1 = r.mul_add(1.0 / 6.0, 0.5);
    let a2 = r.mul_add(1.0 / 120.0, 1.0 / 24.0);
    let a3 = r.mul_add(1.0 / 5_040.0, 1.0 / 720.0);
    let a4 = r.mul_add(1.0 / 362_880.0, 1.0 / 40_320.0);
    let b0 = a1.mul_add(r2, a0);
    let b1 = a3.mul_add(r2, a2);
    let p = a4.mul_add(r4 * r4, b1.mul_add(r4, b0));
    scale_by_pow2(p, k)
}

/// `(z, dz)` with `z + dz = β·x` exactly when `z` is finite; `dz = 0` if the product overflowed.
/// Only for β ≠ 1 (for β = 1, `dz` is 0).
#[inline(always)]
pub fn scaled(beta: f64, x: f64) -> (f64, f64) {
    let z = beta * x;
    let dz = beta.mul_add(x, -z);
    (z, if z.is_finite() { dz } else { 0.0 })
}

/// Where the formulas below take exp (of x ≤ 0), log1p (of t in [0, 1]) and 1 − e^−z from.
pub trait ExpLog1p {
    fn exp_nonpositive(x: f64) -> f64;
    fn log1p_unit(t: f64) -> f64;
    /// 1 − e^−z = −expm1(−z), accurate for small |z| too.
    fn one_minus_exp_neg(z: f64) -> f64;
}

/// 1 − e^−z to a relative error below 2^−30 (enough for results rounded to f32 or f16),
/// branch-free. |z| < 1/32: the Taylor series to z⁵ (truncation < 2^−34 relative); otherwise
/// 1 − e^−z (z > 0) or 1 − 1/e^|z| (z < 0) from [`exp_nonpositive_narrow`], whose 2^−36 error
/// grows by at most 1/(1 − e^−1/32) < 2^5 in the subtraction.
#[inline(always)]
pub fn one_minus_exp_neg_narrow(z: f64) -> f64 {
    // z·(1 − z·(1/2 − z·(1/6 − z·(1/24 − z/120))))
    let m = -z;
    let p = m.mul_add(1.0 / 120.0, 1.0 / 24.0);
    let p = m.mul_add(p, 1.0 / 6.0);
    let p = m.mul_add(p, 0.5);
    let series = z * m.mul_add(p, 1.0);
    let e = exp_nonpositive_narrow(-z.abs());
    let direct = if z >= 0.0 { 1.0 - e } else { 1.0 - 1.0 / e };
    if z.abs() < 1.0 / 32.0 {
        series
    } else {
        direct
    }
}

/// The narrow exp (relative error < 2^−36) with this module's log1p (≤ 1 ULP): vectorizable, for
/// results rounded to f32 or f16, where they still give ≤ 1 ULP.
pub struct Vectorized;

impl ExpLog1p for Vectorized {
    #[inline(always)]
    fn exp_nonpositive(x: f64) -> f64 {
        exp_nonpositive_narrow(x)
    }
    #[inline(always)]
    fn log1p_unit(t: f64) -> f64 {
        log1p_unit(t)
    }
    #[inline(always)]
    fn one_minus_exp_neg(z: f64) -> f64 {
        one_minus_exp_neg_narrow(z)
    }
}

/// libm's exp and log1p: scalar calls, ≤ 0.5 ULP.
pub struct Libm;

impl ExpLog1p for Libm {
    #[inline(always)]
    fn exp_nonpositive(x: f64) -> f64 {
        x.exp()
    }
    #[inline(always)]
    fn log1p_unit(t: f64) -> f64 {
        t.ln_1p()
    }
    #[inline(always)]
    fn one_minus_exp_neg(z: f64) -> f64 {
        -(-z).exp_m1()
    }
}

/// softplus(x; β) = log(1 + exp(β·x)) / β, with PyTorch's linear cutoff: `x` where β·x > `threshold`
/// (pass +∞ for no cutoff). `SCALED = false` is the β = 1 specialisation (no product, no division).
///
/// Written as `x + log1p(exp(−z))/β` for z > 0 and `log1p(exp(z))/β` for z ≤ 0, so exp never
/// overflows, large x return x exactly, and very negative x return the (possibly subnormal) tail
/// exp(z)/β instead of 0. softplus(−∞) = 0, softplus(+∞) = +∞, NaN → NaN.
/// Measured: ≤ 2 ULP in f64 with [`Libm`]; within 2^−35 relative of that with [`Vectorized`].
#[inline(always)]
pub fn softplus<M: ExpLog1p, const SCALED: bool>(x: f64, beta: f64, threshold: f64) -> f64 {
    let (z, dz) = if SCALED { scaled(beta, x) } else { (x, 0.0) };
    let t = M::exp_nonpositive(-z.abs());
    let mut tail = M::log1p_unit(t);
    let positive = z > 0.0;
    if SCALED {
        // d/dz log1p(exp(∓z)) = ∓t/(1+t)
        let slope = t / (1.0 + t);
        tail = (if positive { -dz } else { dz }).mul_add(slope, tail) / beta;
    }
    let y = if positive { x + tail } else { tail };
    if z > threshold || x.is_nan() {
        x
    } else {
        y
    }
}

/// σ(β·x) = 1 / (1 + exp(−β·x)), as 1/(1+t) or t/(1+t) with t = exp(−|z|) ≤ 1: one division, never
/// inf/inf. σ(−∞) = 0, σ(+∞) = 1, NaN → NaN.
#[inline(always)]
pub fn sigmoid<M: ExpLog1p, const SCALED: bool>(x: f64, beta: f64) -> f64 {
    let (z, dz) = if SCALED { scaled(beta, x) } else { (x, 0.0) };
    let t = M::exp_nonpositive(-z.abs());
    let d = 1.0 + t;
    let s = (if z >= 0.0 { 1.0 } else { t }) / d;
    if SCALED {
        // σ'(z) = σ(1 − σ) = t/(1+t)²
        dz.mul_add(t / (d * d), s)
    } else {
        s
    }
}

/// softplus'(x; β)·grad = grad·σ(β·x); `grad` where β·x > `threshold`. NaN where x is NaN.
/// Measured: ≤ 2 ULP in f64 with [`Libm`].
#[inline(always)]
pub fn softplus_grad<M: ExpLog1p, const SCALED: bool>(
    grad: f64,
    x: f64,
    beta: f64,
    threshold: f64,
) -> f64 {
    let z = if SCALED { beta * x } else { x };
    let y = grad * sigmoid::<M, SCALED>(x, beta);
    if z > threshold {
        grad
    } else {
        y
    }
}

/// σ(β·x) from y = softplus(x; β) alone: e^(βy) = 1 + e^(βx), so σ(βx) = 1 − e^(−βy). Its
/// relative error is at most y's (the condition number βy·e^(−βy)/(1 − e^(−βy)) is below 1), plus
/// this evaluation's. `z = β·y` is carried as `z + dz` as in [`softplus`]; d/dz (1 − e^−z) = 1 − σ.
/// y = 0 gives 0, y = +∞ gives 1, NaN → NaN.
#[inline(always)]
pub fn sigmoid_from_softplus<M: ExpLog1p, const SCALED: bool>(y: f64, beta: f64) -> f64 {
    let (z, dz) = if SCALED { scaled(beta, y) } else { (y, 0.0) };
    let s = M::one_minus_exp_neg(z);
    if SCALED {
        dz.mul_add(1.0 - s, s)
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INF: f64 = f64::INFINITY;

    fn ulps(a: f64, b: f64) -> f64 {
        if a == b {
            return 0.0;
        }
        // the distance from |b| to the next double up (the subnormal spacing at 0)
        let spacing = f64::from_bits(b.abs().to_bits() + 1) - b.abs();
        (a - b).abs() / spacing
    }

    #[test]
    fn log1p_matches_libm_within_one_ulp() {
        let mut worst = 0.0f64;
        for i in 0..=200_000 {
            let t = i as f64 / 200_000.0;
            worst = worst.max(ulps(log1p_unit(t), t.ln_1p()));
        }
        for e in -1074..0 {
            let t = 2f64.powi(e) * 1.37;
            if t <= 1.0 {
                worst = worst.max(ulps(log1p_unit(t), t.ln_1p()));
            }
        }
        assert!(worst <= 1.0, "{worst}");
        assert_eq!(log1p_unit(0.0), 0.0);
        assert_eq!(log1p_unit(1.0), std::f64::consts::LN_2);
    }

    fn rel(a: f64, b: f64) -> f64 {
        if a == b {
            0.0
        } else {
            ((a - b) / b).abs()
        }
    }

    #[test]
    fn narrow_exp_is_within_2_to_the_minus_36() {
        let mut worst = 0.0f64;
        let mut x: f64 = -745.0;
        while x <= 0.0 {
            if x.exp() >= f64::MIN_POSITIVE {
                worst = worst.max(rel(exp_nonpositive_narrow(x), x.exp()));
            }
            x += 0.000_731;
        }
        assert!(worst < 2f64.powi(-36), "{worst:e}");
        assert_eq!(exp_nonpositive_narrow(0.0), 1.0);
        assert_eq!(exp_nonpositive_narrow(-INF), 0.0);
        assert!(exp_nonpositive_narrow(f64::NAN).is_nan());
        let tiny = exp_nonpositive_narrow(-740.0); // subnormal, still there
        assert!(tiny > 0.0 && tiny < f64::MIN_POSITIVE);
    }

    #[test]
    fn softplus_limits() {
        assert_eq!(
            softplus::<Vectorized, false>(0.0, 1.0, INF),
            std::f64::consts::LN_2
        );
        assert_eq!(softplus::<Vectorized, false>(1000.0, 1.0, INF), 1000.0);
        assert_eq!(softplus::<Vectorized, false>(-INF, 1.0, INF), 0.0);
        assert_eq!(softplus::<Vectorized, false>(INF, 1.0, INF), INF);
        assert!(softplus::<Vectorized, false>(f64::NAN, 1.0, INF).is_nan());
        assert!(softplus::<Vectorized, false>(f64::NAN, 1.0, 20.0).is_nan());
        // exp(-740) is subnormal but not zero
        let tail = softplus::<Vectorized, false>(-740.0, 1.0, INF);
        assert!(tail > 0.0 && tail < f64::MIN_POSITIVE);
        // beta·x overflows, the answer is still x
        assert_eq!(softplus::<Vectorized, true>(1e308, 10.0, INF), 1e308);
        assert_eq!(softplus::<Vectorized, true>(-1e308, 10.0, INF), 0.0);
        // threshold: linear above it
        assert_eq!(softplus::<Vectorized, false>(21.0, 1.0, 20.0), 21.0);
    }

    #[test]
    fn narrow_and_libm_builds_agree_to_2_to_the_minus_35() {
        // what the f32/f16 kernels rely on: the f64 value within 2^-35 relative (f64-subnormal
        // values, far below f32's range, only to within 2^-35 of the smallest normal)
        let close =
            |a: f64, b: f64| (a - b).abs() <= 2f64.powi(-35) * b.abs().max(f64::MIN_POSITIVE);
        let mut x = -800.0;
        while x < 60.0 {
            for beta in [1.0, 0.5, 3.0] {
                let (a, b) = if beta == 1.0 {
                    (
                        softplus::<Vectorized, false>(x, 1.0, INF),
                        softplus::<Libm, false>(x, 1.0, INF),
                    )
                } else {
                    (
                        softplus::<Vectorized, true>(x, beta, INF),
                        softplus::<Libm, true>(x, beta, INF),
                    )
                };
                assert!(close(a, b), "x={x} beta={beta}: {a} vs {b}");
                let (s, p) = (
                    sigmoid::<Vectorized, true>(x, beta),
                    sigmoid::<Libm, true>(x, beta),
                );
                assert!(close(s, p), "x={x} beta={beta}: {s} vs {p}");
            }
            x += 0.0137;
        }
    }

    #[test]
    fn sigmoid_limits() {
        assert_eq!(sigmoid::<Vectorized, false>(0.0, 1.0), 0.5);
        assert_eq!(sigmoid::<Vectorized, false>(INF, 1.0), 1.0);
        assert_eq!(sigmoid::<Vectorized, false>(-INF, 1.0), 0.0);
        assert_eq!(sigmoid::<Vectorized, true>(1e308, 10.0), 1.0);
        assert!(sigmoid::<Vectorized, false>(f64::NAN, 1.0).is_nan());
        assert!(softplus_grad::<Vectorized, false>(1.0, f64::NAN, 1.0, 20.0).is_nan());
        assert_eq!(
            softplus_grad::<Vectorized, false>(3.0, 50.0, 1.0, 20.0),
            3.0
        );
    }

    /// 1 − e^−z: both builds against each other (libm's expm1 is ≤ 1 ULP) to 2^−30 relative,
    /// across the series/direct switch at |z| = 1/32, both signs, and the limits.
    #[test]
    fn one_minus_exp_neg_narrow_is_within_2_to_the_minus_30() {
        let mut worst = 0.0f64;
        for i in 0..200_000 {
            let z = (i as f64 * 0.618_033_988_749).fract() * 40.0 - 5.0;
            for z in [z, z * 1e-3, z * 1e-9] {
                let want = Libm::one_minus_exp_neg(z);
                worst = worst.max(rel(Vectorized::one_minus_exp_neg(z), want));
            }
        }
        for z in [1.0 / 32.0, -1.0 / 32.0, 1e-300, -1e-300, 5e-324, 700.0] {
            let (got, want) = (one_minus_exp_neg_narrow(z), Libm::one_minus_exp_neg(z));
            worst = worst.max(rel(got, want));
        }
        assert!(worst < 2f64.powi(-30), "{worst:e}");
        assert_eq!(one_minus_exp_neg_narrow(0.0), 0.0);
        assert_eq!(one_minus_exp_neg_narrow(INF), 1.0);
        assert!(one_minus_exp_neg_narrow(f64::NAN).is_nan());
        assert_eq!(sigmoid_from_softplus::<Libm, true>(INF, 3.0), 1.0);
        assert_eq!(sigmoid_from_softplus::<Vectorized, true>(0.0, 3.0), 0.0);
    }
}
