//! Softplus and sigmoid, branch-free so the compiler vectorizes them for every SIMD path.
//!
//! **f32 at β = 1** ([`softplus_f32`], [`sigmoid_grad_f32`]): in f32 arithmetic, eight lanes per
//! AVX2 vector. e^−|x| comes from a degree-5 polynomial as an exact pair 2^−k·(e_hi + e_lo), and
//! the terms that decide the last bit are carried as exact pairs (TwoProd, Fast2Sum), so the
//! value before the last rounding is within ~2^−26 relative. Checked over every f32 input by the
//! ignored `*_exhaustive` tests (CI runs them): softplus ≤ 0.741 ULP (0.774 for subnormal
//! results), grad·σ ≤ 0.86 ULP (1.07 for results within 2^6 of the subnormal range), against
//! the f64 formulas below. ~2.1–2.5 ns and ~1.4–1.7 ns per element on one AVX2 thread, against
//! ~5.4–6.5 and ~2.3–2.8 for the f64 evaluation they replace.
//!
//! **f64 evaluation** (f64 data, and β ≠ 1): one formula, generic over where exp and log1p come
//! from ([`ExpLog1p`]):

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

/// ln 2 rounded to f64 (error < 2^−54): one FMA reduces x by k·ln 2 well enough for [`Narrow`].
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

/// Where the formulas below take exp (of x ≤ 0) and log1p (of t in [0, 1]) from.
pub trait ExpLog1p {
    fn exp_nonpositive(x: f64) -> f64;
    fn log1p_unit(t: f64) -> f64;
}

/// The narrow exp (relative error < 2^−36) with this module's log1p (≤ 1 ULP): vectorizable, for
/// results rounded to f32 or f16, where they still give ≤ 1 ULP.
pub struct Narrow;

impl ExpLog1p for Narrow {
    #[inline(always)]
    fn exp_nonpositive(x: f64) -> f64 {
        exp_nonpositive_narrow(x)
    }
    #[inline(always)]
    fn log1p_unit(t: f64) -> f64 {
        log1p_unit(t)
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
}

/// softplus(x; β) = log(1 + exp(β·x)) / β, with PyTorch's linear cutoff: `x` where β·x > `threshold`
/// (pass +∞ for no cutoff). `SCALED = false` is the β = 1 specialisation (no product, no division).
///
/// Written as `x + log1p(exp(−z))/β` for z > 0 and `log1p(exp(z))/β` for z ≤ 0, so exp never
/// overflows, large x return x exactly, and very negative x return the (possibly subnormal) tail
/// exp(z)/β instead of 0. softplus(−∞) = 0, softplus(+∞) = +∞, NaN → NaN.
/// Measured: ≤ 2 ULP in f64 with [`Libm`]; within 2^−35 relative of that with [`Narrow`].
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
            softplus::<Narrow, false>(0.0, 1.0, INF),
            std::f64::consts::LN_2
        );
        assert_eq!(softplus::<Narrow, false>(1000.0, 1.0, INF), 1000.0);
        assert_eq!(softplus::<Narrow, false>(-INF, 1.0, INF), 0.0);
        assert_eq!(softplus::<Narrow, false>(INF, 1.0, INF), INF);
        assert!(softplus::<Narrow, false>(f64::NAN, 1.0, INF).is_nan());
        assert!(softplus::<Narrow, false>(f64::NAN, 1.0, 20.0).is_nan());
        // exp(-740) is subnormal but not zero
        let tail = softplus::<Narrow, false>(-740.0, 1.0, INF);
        assert!(tail > 0.0 && tail < f64::MIN_POSITIVE);
        // beta·x overflows, the answer is still x
        assert_eq!(softplus::<Narrow, true>(1e308, 10.0, INF), 1e308);
        assert_eq!(softplus::<Narrow, true>(-1e308, 10.0, INF), 0.0);
        // threshold: linear above it
        assert_eq!(softplus::<Narrow, false>(21.0, 1.0, 20.0), 21.0);
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
                        softplus::<Narrow, false>(x, 1.0, INF),
                        softplus::<Libm, false>(x, 1.0, INF),
                    )
                } else {
                    (
                        softplus::<Narrow, true>(x, beta, INF),
                        softplus::<Libm, true>(x, beta, INF),
                    )
                };
                assert!(close(a, b), "x={x} beta={beta}: {a} vs {b}");
                let (s, p) = (
                    sigmoid::<Narrow, true>(x, beta),
                    sigmoid::<Libm, true>(x, beta),
                );
                assert!(close(s, p), "x={x} beta={beta}: {s} vs {p}");
            }
            x += 0.0137;
        }
    }

    #[test]
    fn sigmoid_limits() {
        assert_eq!(sigmoid::<Narrow, false>(0.0, 1.0), 0.5);
        assert_eq!(sigmoid::<Narrow, false>(INF, 1.0), 1.0);
        assert_eq!(sigmoid::<Narrow, false>(-INF, 1.0), 0.0);
        assert_eq!(sigmoid::<Narrow, true>(1e308, 10.0), 1.0);
        assert!(sigmoid::<Narrow, false>(f64::NAN, 1.0).is_nan());
        assert!(softplus_grad::<Narrow, false>(1.0, f64::NAN, 1.0, 20.0).is_nan());
        assert_eq!(softplus_grad::<Narrow, false>(3.0, 50.0, 1.0, 20.0), 3.0);
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
mod sum_tests {
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

/// ln 2 = `LN2_HI_F + LN2_LO_F` + O(2^−48): `LN2_HI_F` has 15 significant bits, so `k·LN2_HI_F`
/// is exact for every k the f32 reduction uses (|k| ≤ 159).
const LN2_HI_F: f32 = f32::from_bits(0x3f31_7200); // 0.693145751953125
const LN2_LO_F: f32 = f32::from_bits(0x35bf_be8e); // 1.4286068e-6
/// ln 2 rounded to f32 and the rest.
const LN2_F: f32 = f32::from_bits(0x3f31_7218);
const LN2_F_LO: f32 = f32::from_bits(0xb102_e308); // −1.9046542e-9
/// 1.5·2^23: `(v + ROUND_F) − ROUND_F` rounds `v` to the nearest integer (|v| < 2^22).
const ROUND_F: f32 = 12_582_912.0;
/// |x| at or below which softplus_f32 uses the series about 0 rather than exp and log1p.
const SERIES_BOUND: f32 = 1.0;

/// P(r) = (e^−r − 1 + r)/r² on |r| ≤ 0.3472 (ln2/2 + 332·LN2_LO_F), degree 5, relative error
/// < 2^−26.5.
const EXP_P: [f32; 6] = [
    f32::from_bits(0x3f00_0000),
    f32::from_bits(0xbe2a_aaab),
    f32::from_bits(0x3d2a_aa74),
    f32::from_bits(0xbc08_8870),
    f32::from_bits(0x3ab6_a216),
    f32::from_bits(0xb950_92ee),
];
/// m₂(u) = (log1p(u) − u + u²/2)/u³ on 0 ≤ u ≤ 1.01/e, degree 6, relative error < 2^−23.9
/// (u²·m₂ ≤ 0.046, so under 2^−28 absolute).
const LOG1P_M2: [f32; 7] = [
    f32::from_bits(0x3eaa_aaab),
    f32::from_bits(0xbe7f_ffb6),
    f32::from_bits(0x3e4c_c01d),
    f32::from_bits(0xbe29_d696),
    f32::from_bits(0x3e0b_8307),
    f32::from_bits(0xbdc4_322c),
    f32::from_bits(0x3d20_d03e),
];
/// N(s) = (log cosh(√s/2) − s/8)/s² on 0 ≤ s ≤ 1, degree 4, relative error < 2^−24.4
/// (s²·N ≤ 0.0052, so under 2^−32 absolute).
const LOGCOSH_N: [f32; 5] = [
    f32::from_bits(0xbbaa_aaab),
    f32::from_bits(0x39b6_0b36),
    f32::from_bits(0xb7dc_f85f),
    f32::from_bits(0x360d_68ad),
    f32::from_bits(0xb41c_fa4d),
];

/// c[0] + c[1]·x + … by Estrin's scheme (pairs, then pairs of pairs): the dependency chain is
/// log2(N) multiply-adds long instead of N − 1, which is what bounds these loops (each iteration
/// is one long chain, and the out-of-order window holds less than two).
#[inline(always)]
fn estrin_f32<const N: usize>(x: f32, c: &[f32; N]) -> f32 {
    let x2 = x * x;
    let x4 = x2 * x2;
    let pair = |i: usize| -> f32 {
        if i + 1 < N {
            c[i + 1].mul_add(x, c[i])
        } else {
            c[i]
        }
    };
    let quad = |i: usize| -> f32 {
        if i + 2 < N {
            pair(i + 2).mul_add(x2, pair(i))
        } else {
            pair(i)
        }
    };
    match N {
        0..=4 => quad(0),
        5..=8 => quad(4).mul_add(x4, quad(0)),
        _ => unreachable!("estrin_f32 takes at most 8 coefficients"),
    }
}

/// 2^−k for an integer-valued k in [0, 126], from its bits (no conversion to an integer type).
#[inline(always)]
fn pow2_neg_f32(k: f32) -> f32 {
    f32::from_bits(((127.0 - k) + ROUND_F).to_bits() << 23)
}

/// (a + b, the exact rounding error) when |a| ≥ |b| (Fast2Sum).
#[inline(always)]
fn fast_two_sum(a: f32, b: f32) -> (f32, f32) {
    let s = a + b;
    (s, b - (s - a))
}

/// e^−t for t ≥ 0 (or NaN) as 2^−k·(e_hi + e_lo): k = round(t/ln 2) after clamping t to
/// `limit` ≤ 230 (so k ≤ 332), e_hi + e_lo = e^−r (r = t − k·ln 2) to ~2^−28 relative,
/// |e_lo| < 0.07. NaN gives NaN parts.
#[inline(always)]
fn exp_neg_f32(t: f32, limit: f32) -> (f32, f32, f32) {
    let tc = if t > limit { limit } else { t }; // NaN stays NaN
    let k = tc.mul_add(std::f32::consts::LOG2_E, ROUND_F) - ROUND_F;
    // t = k·ln 2 + r_hi − c: r_hi exact, c = k·LN2_LO_F ≤ 4.8e−4, so E = e^−r = e^−r_hi·e^c.
    // The polynomial takes r_hi (no rounded r on the critical path) and e^c − 1 = c + c²/2
    // is folded into the low part.
    let r_hi = (-k).mul_add(LN2_HI_F, tc);
    let c = k * LN2_LO_F;
    let c1 = c.mul_add(0.5 * c, c);
    let e_hi = 1.0 - r_hi;
    let e_err = (1.0 - e_hi) - r_hi; // exact: |r_hi| < 1
    let r2 = r_hi * r_hi;
    // e_lo = e_err + e_hi·c1 + r_hi²·P(r_hi)·(1 + c1)
    let e_lo = (r2.mul_add(c1, r2)).mul_add(estrin_f32(r_hi, &EXP_P), e_hi.mul_add(c1, e_err));
    (k, e_hi, e_lo)
}

/// softplus(x) = log(1 + eˣ) for β = 1, in f32 arithmetic (eight lanes per AVX2 vector instead of
/// four in f64). The leading terms are carried as unevaluated sums of two f32, so the value before
/// the one final rounding is within ~2^−26 relative.
///
/// * |x| ≤ 1: softplus(x) = ln 2 + x/2 + x²/8 + x⁴·N(x²) (log cosh(x/2) = x²/8 + …).
/// * |x| > 1: with t = |x| = k·ln 2 + r, e^−t = 2^−k·E, E = e^−r = 1 − r + r²·P(r) as a pair
///   (E_hi, E_lo); log1p(u) = u·(1 + w), w = u·m(u); softplus(−t) = 2^−k·E·(1 + w) and
///   softplus(t) = t + the same.
///
/// NaN → NaN (the input's bits), −∞ → +0, +∞ → +∞; subnormal results are rounded once from a
/// 24-bit value (within 0.75 ULP).
#[inline(always)]
pub fn softplus_f32(x: f32) -> f32 {
    let t = x.abs();
    // beyond 110, e^−t is far below 2^−149: the result is x or 0
    let (k, e_hi, e_lo) = exp_neg_f32(t, 110.0);
    // 2^−k, clamped so that it stays normal: for k > 100, w < 2^−100 and x + 2^−k·E = x anyway,
    // and the x < −1 result takes the rest of the scale in a second, rounding, step
    let kc = if k < 100.0 { k } else { 100.0 };
    let scale = pow2_neg_f32(kc);
    let e_hi_scaled = e_hi * scale; // exact

    // u = e^−t, for log1p(u) = u·(1 + w), w = −u/2 + v, v = u²·m₂(u)
    let u = e_lo.mul_add(scale, e_hi_scaled);
    let neg_half_u = -0.5 * u;
    let v = (u * u) * estrin_f32(u, &LOG1P_M2);
    // E·(1 + w) = E_hi + E_hi·(−u/2) + [E_lo + E_hi·v + E_lo·w]. With h = −2^−k·E_hi/2 (exact),
    // E_hi·(−u/2) = E_hi·h + E_lo·h exactly; E_hi·h and E_hi + E_hi·h are carried as exact pairs
    // (TwoProd, Fast2Sum), so only the final sum rounds. None of it waits for E_lo but `base`.
    let h = -0.5 * e_hi_scaled;
    let p = e_hi * h;
    let p_err = e_hi.mul_add(h, -p);
    let (big, big_err) = fast_two_sum(e_hi, p);
    let base = e_lo.mul_add(h, e_lo + (big_err + p_err));
    let small = e_lo.mul_add(v + neg_half_u, e_hi.mul_add(v, base));
    let big_scaled = big * scale; // exact

    // x < −1: 2^−k·(big + small), rounded to 24 bits and then (if subnormal) once more
    let negative = small.mul_add(scale, big_scaled) * pow2_neg_f32(k - kc);
    // x > 1: x + 2^−k·(big + small); that sum is < x/4, so rounding it first adds < 1/8 ULP
    let positive = x + small.mul_add(scale, big_scaled);
    // |x| ≤ 1: ln 2 + x/2 + x²/8 + x⁴·N(x²)
    let sq = x * x;
    let sq_err = x.mul_add(x, -sq);
    let (a, a_err) = fast_two_sum(LN2_F, 0.5 * x);
    let (b, b_err) = fast_two_sum(a, 0.125 * sq);
    let rest = (sq * sq).mul_add(
        estrin_f32(sq, &LOGCOSH_N),
        sq_err.mul_add(0.125, a_err + LN2_F_LO + b_err),
    );
    let series = b + rest;
    if t <= SERIES_BOUND {
        series
    } else if x > 0.0 {
        positive
    } else if x < 0.0 {
        negative
    } else {
        x // NaN
    }
}

/// grad·σ(x) = grad/(1 + e^−x) for β = 1 in f32 arithmetic (eight lanes per AVX2 vector).
///
/// With u = e^−|x| = 2^−k·(e_hi + e_lo), d = 1 + u is carried as an exact pair (d_hi, d_lo) and
/// σ = n/d (n = 1 for x ≥ 0, u for x < 0) as q + σ_lo: q = n/d_hi rounded, σ_lo from the exact
/// residual n − q·d_hi. The product grad·(q + σ_lo) rounds once.
///
/// NaN x → NaN; x = +∞ → grad, x = −∞ → grad·0.
#[inline(always)]
pub fn sigmoid_grad_f32(grad: f32, x: f32) -> f32 {
    let t = x.abs();
    // a huge grad times σ(−t) is a normal f32 down to σ = 2^−277 (t ≈ 192)
    let (k, e_hi, e_lo) = exp_neg_f32(t, 230.0);
    // u = 2^−kc·(e_hi + e_lo), kc = min(k, 100) (see softplus_f32). For x < 0 the rest of 2^−k
    // (≤ 2^−232, in two normal factors) scales grad up front: if that underflows, so does the
    // result. σ(−∞) = 0 exactly, so grad·σ(−∞) = grad·0 (NaN for an infinite grad).
    let kc = if k < 100.0 { k } else { 100.0 };
    let scale = pow2_neg_f32(kc);
    let negative = x < 0.0;
    let rest = k - kc;
    let rest1 = if rest < 116.0 { rest } else { 116.0 };
    let grad = if x == f32::NEG_INFINITY {
        grad * 0.0
    } else if negative {
        grad * pow2_neg_f32(rest1) * pow2_neg_f32(rest - rest1)
    } else {
        grad
    };
    let e_hi_scaled = e_hi * scale; // exact
    let e_lo_scaled = e_lo * scale;
    // d = 1 + u = d_hi + d_lo: d_hi within an ulp of d, d_lo the rest (the inner sum is exact)
    let d_hi = e_lo.mul_add(scale, 1.0 + e_hi_scaled);
    let d_lo = e_lo.mul_add(scale, (1.0 - d_hi) + e_hi_scaled);
    // σ = n/d, n = 1 (x ≥ 0) or u (x < 0), as q + (n − q·d)/d for q = n_hi/d_hi: the identity is
    // exact for any q, and (n − q·d) is ~6% of n at most, so its rounding errors hardly count
    let (n_hi, n_lo) = if negative {
        (e_hi_scaled, e_lo_scaled)
    } else {
        (1.0, 0.0)
    };
    let rec = 1.0 / d_hi;
    let q = n_hi * rec;
    let correction = (-q).mul_add(d_hi, n_hi) + (-q).mul_add(d_lo, n_lo);
    // the correction's grad is kept finite, so an infinite grad gives ±∞, not ∞ − ∞
    let finite_grad = grad.clamp(-f32::MAX, f32::MAX);
    // a NaN x is NaN throughout
    grad.mul_add(q, correction * (finite_grad * rec))
}

#[cfg(test)]
mod f32_tests {
    use super::*;

    /// |got − want| in units of the f32 spacing at |want| (2^−149 below the normal range).
    fn ulps_f32(got: f32, want: f64) -> f64 {
        if (got as f64) == want || (got.is_nan() && want.is_nan()) {
            return 0.0;
        }
        if !(got.is_finite() && want.is_finite()) {
            return f64::INFINITY; // a NaN or an infinity where the other is not
        }
        let a = want.abs();
        let e = if a == 0.0 {
            -1000
        } else {
            ((a.to_bits() >> 52) as i64) - 1023
        };
        let spacing = 2f64.powi((e.max(-126) - 23) as i32);
        (got as f64 - want).abs() / spacing
    }

    /// `f(x)` against `reference(x)` (f64, to ~2^−35) for every f32 x, both cores:
    /// (max ULP over results ≥ 2^−120 and the x there, max ULP over all, count above 0.5 ULP).
    fn every_f32(
        f: fn(f32) -> f32,
        reference: fn(f32) -> f64,
        exact: fn(f32) -> f64,
    ) -> (f64, f32, f64, u64) {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                std::thread::spawn(move || {
                    let (mut worst, mut worst_x, mut worst_all, mut over_half) =
                        (0.0f64, 0.0f32, 0.0f64, 0u64);
                    let lo = (1u64 << 32) * i / threads;
                    let hi = (1u64 << 32) * (i + 1) / threads;
                    let mut bits = lo;
                    while bits < hi {
                        let n = 4096.min(hi - bits);
                        let xs: Vec<f32> =
                            (bits..bits + n).map(|b| f32::from_bits(b as u32)).collect();
                        let got: Vec<f32> = xs.iter().map(|&x| f(x)).collect();
                        for (&x, &g) in xs.iter().zip(&got) {
                            let mut e = ulps_f32(g, reference(x));
                            if e > 0.5 {
                                e = ulps_f32(g, exact(x)); // libm, to rule out the reference
                                if e > 0.5 {
                                    over_half += 1;
                                }
                            }
                            if e > worst && g.abs() >= 2f32.powi(-120) {
                                (worst, worst_x) = (e, x);
                            }
                            worst_all = worst_all.max(e);
                        }
                        bits += n;
                    }
                    (worst, worst_x, worst_all, over_half)
                })
            })
            .collect();
        let mut total = (0.0, 0.0f32, 0.0, 0);
        for h in handles {
            let (w, x, a, o) = h.join().unwrap();
            if w > total.0 {
                (total.0, total.1) = (w, x);
            }
            total.2 = f64::max(total.2, a);
            total.3 += o;
        }
        total
    }

    /// Every f32 (~100 s on 2 cores): `cargo test --release -- --ignored exhaustive`.
    #[test]
    #[ignore]
    fn sigmoid_grad_f32_exhaustive() {
        const G: f32 = -1.3; // a grad that is not a power of 2, so the product rounds
        let report = |g: f32, (worst, x, all, over): (f64, f32, f64, u64)| {
            eprintln!(
                "grad {g}·sigmoid_f32: results >= 2^-120 max {worst} ULP at x = {x:e}; all \
                 results max {all} ULP; {over} results above 0.5 ULP"
            );
            assert!(all <= 2.0);
        };
        report(
            1.0,
            every_f32(
                |x| sigmoid_grad_f32(1.0, x),
                |x| sigmoid::<Narrow, false>(x as f64, 1.0),
                |x| sigmoid::<Libm, false>(x as f64, 1.0),
            ),
        );
        report(
            G,
            every_f32(
                |x| sigmoid_grad_f32(G, x),
                |x| G as f64 * sigmoid::<Narrow, false>(x as f64, 1.0),
                |x| G as f64 * sigmoid::<Libm, false>(x as f64, 1.0),
            ),
        );
    }

    /// Every f32 (~100 s on 2 cores): `cargo test --release -- --ignored exhaustive`.
    #[test]
    #[ignore]
    fn softplus_f32_exhaustive() {
        let (worst, x, all, over) = every_f32(
            softplus_f32,
            |x| softplus::<Narrow, false>(x as f64, 1.0, f64::INFINITY),
            |x| softplus::<Libm, false>(x as f64, 1.0, f64::INFINITY),
        );
        eprintln!(
            "softplus_f32: results >= 2^-120 max {worst} ULP at x = {x:e}; all results max {all} \
             ULP; {over} results above 0.5 ULP"
        );
        assert!(all <= 1.0);
    }
}
