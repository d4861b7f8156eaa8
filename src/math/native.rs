//! Softplus and grad·σ at β = 1 evaluated in the element's own precision (f32 or f64), branch-free
//! so the compiler vectorizes them: eight f32 or four f64 lanes per AVX2 vector.
//!
//! e^−|x| comes from a polynomial as an unevaluated pair 2^−k·(e_hi + e_lo), and the terms that
//! decide the last bit are carried as exact pairs (TwoProd, Fast2Sum), so the value before the last
//! rounding is within ~2^−(p+2) relative (p = 24 or 53). Measured:
//!
//! * f32, every input (the ignored `*_exhaustive` tests; CI runs them): softplus ≤ 0.741 ULP
//!   (0.774 for subnormal results), grad·σ ≤ 0.86 ULP (1.07 for results within 2^6 of the
//!   subnormal range), against the f64 evaluation of [`super::softplus`].
//! * f64, 400K inputs against mpmath (across the whole range, dense at the bend, at |x| = 1 and
//!   near the subnormal range): softplus ≤ 0.745 ULP, grad·σ ≤ 0.993 ULP.
//!   `RELU_RS_MPMATH_SAMPLES=400000 python -m pytest tests/test_softplus.py -k mpmath_sample -s`
//!   measures it; CI runs that test on 8000 samples.

use std::ops::{Add, Div, Mul, Neg, Sub};

/// A float type softplus and grad·σ are evaluated in directly: its constants and the few
/// operations the formulas need.
pub trait NativeFloat:
    'static
    + Copy
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
{
    const ZERO: Self;
    const ONE: Self;
    const HALF: Self;
    const EIGHTH: Self;
    const NEG_INFINITY: Self;
    const LOG2_E: Self;
    /// ln 2 = `LN2_HI + LN2_LO` + O(2^−2p): `LN2_HI` has few enough significant bits that k·LN2_HI
    /// is exact for every k the reduction meets.
    const LN2_HI: Self;
    const LN2_LO: Self;
    /// ln 2 rounded, and the rest.
    const LN2: Self;
    const LN2_REST: Self;
    /// 1.5·2^(p−1): `(v + ROUND) − ROUND` rounds `v` to an integer.
    const ROUND: Self;
    /// Beyond this |x|, e^−|x| is below half the smallest subnormal: softplus is x or 0.
    const SOFTPLUS_LIMIT: Self;
    /// Beyond this |x|, grad·σ(−|x|) is 0 for every finite grad.
    const GRAD_LIMIT: Self;
    /// The largest k of a 2^−k used as one factor (normal, and leaving e_hi·2^−k normal).
    const SCALE_LIMIT: Self;
    /// The largest k of the first of two factors that scale grad for very negative x.
    const REST_LIMIT: Self;
    /// P(r) = (e^−r − 1 + r)/r² on |r| ≤ ln2/2 + k_max·LN2_LO, given r².
    fn exp_p(r: Self, r2: Self) -> Self;
    /// m₂(u) = (log1p(u) − u + u²/2)/u³ on 0 ≤ u ≤ 1.01/e, given u².
    fn log1p_m2(u: Self, u2: Self) -> Self;
    /// N(s) = (log cosh(√s/2) − s/8)/s² on 0 ≤ s ≤ 1, given s².
    fn logcosh_n(s: Self, s2: Self) -> Self;
    fn mul_add(self, a: Self, b: Self) -> Self;
    fn abs(self) -> Self;
    /// Clamped to ±MAX (NaN stays NaN).
    fn clamp_finite(self) -> Self;
    /// 2^−k for an integer-valued k in [0, SCALE_LIMIT], from its bits.
    fn pow2_neg(k: Self) -> Self;
}

impl NativeFloat for f32 {
    const ZERO: f32 = 0.0;
    const ONE: f32 = 1.0;
    const HALF: f32 = 0.5;
    const EIGHTH: f32 = 0.125;
    const NEG_INFINITY: f32 = f32::NEG_INFINITY;
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    /// 0.693145751953125: 15 significant bits, so k·LN2_HI is exact for k ≤ 512.
    const LN2_HI: f32 = f32::from_bits(0x3f31_7200);
    const LN2_LO: f32 = f32::from_bits(0x35bf_be8e); // 1.4286068e-6
    const LN2: f32 = f32::from_bits(0x3f31_7218);
    const LN2_REST: f32 = f32::from_bits(0xb102_e308); // −1.9046542e-9
    const ROUND: f32 = 12_582_912.0;
    /// e^−110 is far below 2^−149 (k ≤ 159).
    const SOFTPLUS_LIMIT: f32 = 110.0;
    /// grad ≤ 2^128 times σ ≥ 2^−277 can be a normal f32 (t ≈ 192); k ≤ 332.
    const GRAD_LIMIT: f32 = 230.0;
    const SCALE_LIMIT: f32 = 100.0;
    const REST_LIMIT: f32 = 116.0;
    #[inline(always)]
    fn exp_p(r: f32, r2: f32) -> f32 {
        estrin(r, r2, &F32_EXP_P)
    }
    #[inline(always)]
    fn log1p_m2(u: f32, u2: f32) -> f32 {
        estrin(u, u2, &F32_LOG1P_M2)
    }
    #[inline(always)]
    fn logcosh_n(s: f32, s2: f32) -> f32 {
        estrin(s, s2, &F32_LOGCOSH_N)
    }
    #[inline(always)]
    fn mul_add(self, a: f32, b: f32) -> f32 {
        f32::mul_add(self, a, b)
    }
    #[inline(always)]
    fn abs(self) -> f32 {
        f32::abs(self)
    }
    #[inline(always)]
    fn clamp_finite(self) -> f32 {
        self.clamp(-f32::MAX, f32::MAX)
    }
    #[inline(always)]
    fn pow2_neg(k: f32) -> f32 {
        f32::from_bits(((127.0 - k) + Self::ROUND).to_bits() << 23)
    }
}

impl NativeFloat for f64 {
    const ZERO: f64 = 0.0;
    const ONE: f64 = 1.0;
    const HALF: f64 = 0.5;
    const EIGHTH: f64 = 0.125;
    const NEG_INFINITY: f64 = f64::NEG_INFINITY;
    const LOG2_E: f64 = std::f64::consts::LOG2_E;
    /// fdlibm's split: 32 significant bits, so k·LN2_HI is exact for k < 2^21.
    const LN2_HI: f64 = super::LN2_HI;
    const LN2_LO: f64 = super::LN2_LO;
    const LN2: f64 = std::f64::consts::LN_2;
    const LN2_REST: f64 = f64::from_bits(0x3c7a_bc9e_3b39_803f); // 2.3190468138462996e-17
    const ROUND: f64 = 6_755_399_441_055_744.0;
    /// e^−746 is below 2^−1075 (k ≤ 1077).
    const SOFTPLUS_LIMIT: f64 = 746.0;
    /// grad ≤ 2^1024 times σ ≥ 2^−2099 can be a normal f64 (t ≈ 1455); k ≤ 2107.
    const GRAD_LIMIT: f64 = 1460.0;
    const SCALE_LIMIT: f64 = 1000.0;
    const REST_LIMIT: f64 = 1000.0;
    #[inline(always)]
    fn exp_p(r: f64, r2: f64) -> f64 {
        estrin(r, r2, &F64_EXP_P)
    }
    #[inline(always)]
    fn log1p_m2(u: f64, u2: f64) -> f64 {
        estrin(u, u2, &F64_LOG1P_M2)
    }
    #[inline(always)]
    fn logcosh_n(s: f64, s2: f64) -> f64 {
        estrin(s, s2, &F64_LOGCOSH_N)
    }
    #[inline(always)]
    fn mul_add(self, a: f64, b: f64) -> f64 {
        f64::mul_add(self, a, b)
    }
    #[inline(always)]
    fn abs(self) -> f64 {
        f64::abs(self)
    }
    #[inline(always)]
    fn clamp_finite(self) -> f64 {
        self.clamp(-f64::MAX, f64::MAX)
    }
    #[inline(always)]
    fn pow2_neg(k: f64) -> f64 {
        f64::from_bits(((1023.0 - k) + Self::ROUND).to_bits() << 52)
    }
}

/// [`NativeFloat::exp_p`] for f32: degree 5 on |r| ≤ 0.3472 (ln2/2 + 332·LN2_LO), relative error <
/// 2^−26.5.
const F32_EXP_P: [f32; 6] = [
    f32::from_bits(0x3f00_0000),
    f32::from_bits(0xbe2a_aaab),
    f32::from_bits(0x3d2a_aa74),
    f32::from_bits(0xbc08_8870),
    f32::from_bits(0x3ab6_a216),
    f32::from_bits(0xb950_92ee),
];

/// [`NativeFloat::log1p_m2`] for f32: degree 6, relative error < 2^−23.9 (u²·m₂ ≤ 0.046, so under
/// 2^−28 absolute).
const F32_LOG1P_M2: [f32; 7] = [
    f32::from_bits(0x3eaa_aaab),
    f32::from_bits(0xbe7f_ffb6),
    f32::from_bits(0x3e4c_c01d),
    f32::from_bits(0xbe29_d696),
    f32::from_bits(0x3e0b_8307),
    f32::from_bits(0xbdc4_322c),
    f32::from_bits(0x3d20_d03e),
];

/// [`NativeFloat::logcosh_n`] for f32: degree 4, relative error < 2^−24.4 (s²·N ≤ 0.0052, so under
/// 2^−32 absolute).
const F32_LOGCOSH_N: [f32; 5] = [
    f32::from_bits(0xbbaa_aaab),
    f32::from_bits(0x39b6_0b36),
    f32::from_bits(0xb7dc_f85f),
    f32::from_bits(0x360d_68ad),
    f32::from_bits(0xb41c_fa4d),
];

/// [`NativeFloat::exp_p`] for f64: degree 10 on |r| ≤ 0.3467, relative error < 2^−57.5.
const F64_EXP_P: [f64; 11] = [
    f64::from_bits(0x3fe0_0000_0000_0000),
    f64::from_bits(0xbfc5_5555_5555_5557),
    f64::from_bits(0x3fa5_5555_5555_5556),
    f64::from_bits(0xbf81_1111_1111_00d3),
    f64::from_bits(0x3f56_c16c_16c1_62cf),
    f64::from_bits(0xbf2a_01a0_1abe_ccc3),
    f64::from_bits(0x3efa_01a0_1a6d_b488),
    f64::from_bits(0xbec7_1de0_2225_a2f3),
    f64::from_bits(0x3e92_7e4d_b5bb_725a),
    f64::from_bits(0xbe5a_f4e0_92e1_705b),
    f64::from_bits(0x3e21_f731_5649_f2d7),
];

/// [`NativeFloat::log1p_m2`] for f64: degree 13, relative error < 2^−51.9 (u²·m₂ ≤ 0.046, so under
/// 2^−56 absolute).
const F64_LOG1P_M2: [f64; 14] = [
    f64::from_bits(0x3fd5_5555_5555_5554),
    f64::from_bits(0xbfcf_ffff_ffff_f8f2),
    f64::from_bits(0x3fc9_9999_9994_c1e7),
    f64::from_bits(0xbfc5_5555_5404_ec4d),
    f64::from_bits(0x3fc2_4924_6273_3f58),
    f64::from_bits(0xbfbf_fff7_cf71_426e),
    f64::from_bits(0x3fbc_7152_1a2a_0f12),
    f64::from_bits(0xbfb9_9521_2398_913a),
    f64::from_bits(0x3fb7_26f8_fddd_3c61),
    f64::from_bits(0xbfb4_bc9e_a9f1_3d0f),
    f64::from_bits(0x3fb1_8ea4_fa7c_8c31),
    f64::from_bits(0xbfa9_83a0_eae2_6336),
    f64::from_bits(0x3f9a_ded5_bc69_0edc),
    f64::from_bits(0xbf7d_3b7a_ddc0_1a52),
];

/// [`NativeFloat::logcosh_n`] for f64: degree 8, relative error < 2^−49.7 (s²·N ≤ 0.0052, so under
/// 2^−57 absolute).
const F64_LOGCOSH_N: [f64; 9] = [
    f64::from_bits(0xbf75_5555_5555_554f),
    f64::from_bits(0x3f36_c16c_16c1_2d92),
    f64::from_bits(0xbefb_a1ba_1b39_3965),
    f64::from_bits(0x3ec1_ea5d_1805_fbeb),
    f64::from_bits(0xbe88_33ce_d896_07b5),
    f64::from_bits(0x3e50_cfb4_de73_475b),
    f64::from_bits(0xbe17_be67_4cb9_04d7),
    f64::from_bits(0x3de0_4aab_53b8_9ad7),
    f64::from_bits(0xbda0_ce4f_6474_8f3a),
];

/// c[0] + c[1]·x + … (N ≤ 16) by Estrin's scheme, given x²: pairs c[i] + c[i+1]·x, then pairs
/// of those with x², x⁴, x⁸. The dependency chain is ~log2(N) multiply-adds long instead of
/// N − 1; N is a constant, so every branch below folds away into straight-line code.
#[inline(always)]
fn estrin<T: NativeFloat, const N: usize>(x: T, x2: T, c: &[T; N]) -> T {
    let x4 = x2 * x2;
    let pair = |i: usize| -> T {
        if i + 1 < N {
            c[i + 1].mul_add(x, c[i])
        } else if i < N {
            c[i]
        } else {
            T::ZERO
        }
    };
    let quad = |i: usize| -> T {
        if i + 2 < N {
            pair(i + 2).mul_add(x2, pair(i))
        } else {
            pair(i)
        }
    };
    let oct = |i: usize| -> T {
        if i + 4 < N {
            quad(i + 4).mul_add(x4, quad(i))
        } else {
            quad(i)
        }
    };
    assert!(N <= 16, "estrin takes at most 16 coefficients");
    if N > 8 {
        oct(8).mul_add(x4 * x4, oct(0))
    } else {
        oct(0)
    }
}

/// (a + b, the exact rounding error) when |a| ≥ |b| (Fast2Sum).
#[inline(always)]
fn fast_two_sum<T: NativeFloat>(a: T, b: T) -> (T, T) {
    let s = a + b;
    (s, b - (s - a))
}

/// e^−t for t ≥ 0 (or NaN) as 2^−k·(e_hi + e_lo): k = round(t/ln 2) after clamping t to `limit`,
/// e_hi + e_lo = e^−r (r = t − k·ln 2) to ~2^−(p+4) relative, |e_lo| < 0.07. NaN gives NaN parts.
#[inline(always)]
fn exp_neg<T: NativeFloat>(t: T, limit: T) -> (T, T, T) {
    let tc = if t > limit { limit } else { t }; // NaN stays NaN
    let k = tc.mul_add(T::LOG2_E, T::ROUND) - T::ROUND;
    // t = k·ln 2 + r_hi − c: r_hi exact, c = k·LN2_LO small, so E = e^−r = e^−r_hi·e^c. The
    // polynomial takes r_hi (no rounded r on the critical path) and e^c − 1 = c + c²/2 is folded
    // into the low part.
    let r_hi = (-k).mul_add(T::LN2_HI, tc);
    let c = k * T::LN2_LO;
    let c1 = c.mul_add(T::HALF * c, c);
    let e_hi = T::ONE - r_hi;
    let e_err = (T::ONE - e_hi) - r_hi; // exact: |r_hi| < 1
    let r2 = r_hi * r_hi;
    // e_lo = e_err + e_hi·c1 + r_hi²·P(r_hi)·(1 + c1)
    let e_lo = (r2.mul_add(c1, r2)).mul_add(T::exp_p(r_hi, r2), e_hi.mul_add(c1, e_err));
    (k, e_hi, e_lo)
}

/// softplus(x) before its last rounding: `fma(lo, lo_scale, hi)·rest.0·rest.1`, where
/// `lo·lo_scale` is small beside `hi` (below hi/4), and `rest` is 1 but for x < −1 with k beyond
/// `SCALE_LIMIT` (the powers of two left over, each normal). `u` is e^−|x| in the same scaled
/// domain, for σ. NaN x gives NaN parts.
struct SoftplusParts<T> {
    hi: T,
    lo: T,
    lo_scale: T,
    rest: (T, T),
    u: T,
}

/// See [`softplus_native`]. |x| is clamped to `limit` (≤ `GRAD_LIMIT`), beyond which the caller's
/// result is 0.
#[inline(always)]
fn softplus_parts<T: NativeFloat>(x: T, limit: T) -> SoftplusParts<T> {
    let t = x.abs();
    let (k, e_hi, e_lo) = exp_neg(t, limit);
    // 2^−k, clamped so that it stays normal: for k > SCALE_LIMIT, w is negligible and
    // x + 2^−k·E = x anyway, and the x < −1 result takes the rest in a second, rounding, step
    let kc = if k < T::SCALE_LIMIT {
        k
    } else {
        T::SCALE_LIMIT
    };
    let scale = T::pow2_neg(kc);
    let e_hi_scaled = e_hi * scale; // exact

    // u = e^−t, for log1p(u) = u·(1 + w), w = −u/2 + v, v = u²·m₂(u)
    let u = e_lo.mul_add(scale, e_hi_scaled);
    let neg_half_u = -T::HALF * u;
    let u2 = u * u;
    let v = u2 * T::log1p_m2(u, u2);
    // E·(1 + w) = E_hi + E_hi·(−u/2) + [E_lo + E_hi·v + E_lo·w]. With h = −2^−k·E_hi/2 (exact),
    // E_hi·(−u/2) = E_hi·h + E_lo·h exactly; E_hi·h and E_hi + E_hi·h are carried as exact pairs
    // (TwoProd, Fast2Sum), so only the final sum rounds. None of it waits for E_lo but `base`.
    let h = -T::HALF * e_hi_scaled;
    let p = e_hi * h;
    let p_err = e_hi.mul_add(h, -p);
    let (big, big_err) = fast_two_sum(e_hi, p);
    let base = e_lo.mul_add(h, e_lo + (big_err + p_err));
    let small = e_lo.mul_add(v + neg_half_u, e_hi.mul_add(v, base));
    let big_scaled = big * scale; // exact

    // |x| ≤ 1: ln 2 + x/2 + x²/8 + x⁴·N(x²)
    let sq = x * x;
    let sq_err = x.mul_add(x, -sq);
    let (a, a_err) = fast_two_sum(T::LN2, T::HALF * x);
    let (b, b_err) = fast_two_sum(a, T::EIGHTH * sq);
    let sq2 = sq * sq;
    let series_rest = sq2.mul_add(
        T::logcosh_n(sq, sq2),
        sq_err.mul_add(T::EIGHTH, a_err + T::LN2_REST + b_err),
    );
    let one = (T::ONE, T::ONE);
    let (hi, lo, lo_scale, rest) = if t <= T::ONE {
        (b, series_rest, T::ONE, one)
    } else if x > T::ZERO {
        // x + 2^−k·(big + small); that sum is < x/4, so rounding it first adds < 1/8 ULP
        (x, small.mul_add(scale, big_scaled), T::ONE, one)
    } else {
        // 2^−k·(big + small), rounded to p bits and then (if subnormal) once more; NaN too
        let rest = k - kc;
        let rest1 = if rest < T::REST_LIMIT {
            rest
        } else {
            T::REST_LIMIT
        };
        (
            big_scaled,
            small,
            scale,
            (T::pow2_neg(rest1), T::pow2_neg(rest - rest1)),
        )
    };
    SoftplusParts {
        hi,
        lo,
        lo_scale,
        rest,
        u,
    }
}

/// softplus(x) = log(1 + eˣ) (β = 1), in `T` arithmetic.
///
/// * |x| ≤ 1: ln 2 + x/2 + x²/8 + x⁴·N(x²) (log cosh(x/2) = x²/8 + …), the first sums exact.
/// * |x| > 1: with e^−|x| = u = 2^−k·E, log1p(u) = u·(1 + w), w = −u/2 + u²·m₂(u):
///   softplus(−|x|) = 2^−k·E·(1 + w) and softplus(|x|) = |x| + the same.
///
/// NaN → the input (its bits), −∞ → +0, +∞ → +∞; subnormal results are rounded twice (from a
/// p-bit value), the rest once.
#[inline(always)]
pub fn softplus_native<T: NativeFloat>(x: T) -> T {
    let p = softplus_parts(x, T::SOFTPLUS_LIMIT);
    // rest.1 is 1 here: k ≤ SOFTPLUS_LIMIT/ln 2 < SCALE_LIMIT + REST_LIMIT
    let y = p.lo.mul_add(p.lo_scale, p.hi) * p.rest.1 * p.rest.0;
    if x < T::ZERO || x >= T::ZERO {
        y
    } else {
        x // NaN: its bits
    }
}

/// softplus(x; β) = softplus(β·x)/β for β ≠ 1, in `T` arithmetic: z = β·x carried as z + dz
/// (dz = fma(β, x, −z), exact), softplus(z) as the parts of [`softplus_native`], and
///
/// ```text
/// y = (hi + lo + dz·σ(z)) / β,
/// ```
///
/// divided with a remainder: q = hi·(1/β), r = fma(−q, β, hi) (exact) + lo + dz·σ(z),
/// y = q + r·(1/β). Only the last addition rounds (then the leftover power of two for very
/// negative z; a subnormal result rounds twice). σ(z) = 1/(1+u) or u/(1+u) only scales dz, so
/// one division of plain accuracy does. `inv_beta` is 1/β rounded, and `limit` the |z| beyond
/// which the result underflows: `SOFTPLUS_LIMIT` + ln(1/β) for β < 1 (at most `GRAD_LIMIT`).
/// z = ±∞ gives x (z > 0) or 0.
#[inline(always)]
pub fn softplus_scaled_native<T: NativeFloat>(x: T, beta: T, inv_beta: T, limit: T) -> T {
    let z = beta * x;
    let dz = beta.mul_add(x, -z);
    let p = softplus_parts(z, limit);
    let infinite = z.abs() == -T::NEG_INFINITY;
    // below −limit the parts are e^−limit's (a result that rounds to 0), and dz is no longer
    // small beside 1 (it is half an ULP of z); above, (z + dz)/β is exactly x
    let dz = if z < -limit { T::ZERO } else { dz };
    // σ(z) in the parts' scaled domain: u·rest is e^−|z|
    let sigma = (if z > T::ZERO { T::ONE } else { p.u }) / (T::ONE + p.u * p.rest.0 * p.rest.1);
    let q = p.hi * inv_beta;
    let r = (-q).mul_add(beta, p.hi) + p.lo.mul_add(p.lo_scale, dz * sigma);
    // the smaller power of two last, so only the last product can round (twice for a subnormal)
    let y = r.mul_add(inv_beta, q) * p.rest.1 * p.rest.0;
    if infinite {
        if z > T::ZERO {
            x
        } else {
            T::ZERO
        }
    } else {
        y
    }
}

/// grad·σ(x) = grad/(1 + e^−x) (β = 1), in `T` arithmetic.
///
/// With u = e^−|x| = 2^−k·(e_hi + e_lo), d = 1 + u is carried as an exact pair (d_hi, d_lo) and
/// σ = n/d (n = 1 for x ≥ 0, u for x < 0) as q + (n − q·d)/d for q = n_hi/d_hi: the identity is
/// exact for any q, and its correction is small, so grad·σ rounds once.
///
/// NaN x → NaN; x = +∞ → grad, x = −∞ → grad·0 (NaN for an infinite grad).
#[inline(always)]
pub fn sigmoid_grad_native<T: NativeFloat>(grad: T, x: T) -> T {
    let t = x.abs();
    // a huge grad times σ(−t) can be normal far beyond where σ alone underflows
    let (k, e_hi, e_lo) = exp_neg(t, T::GRAD_LIMIT);
    // u = 2^−kc·(e_hi + e_lo), kc = min(k, SCALE_LIMIT) (see softplus_native). For x < 0 the rest
    // of 2^−k, in two normal factors, scales grad up front: if that underflows, so does the
    // result. σ(−∞) = 0 exactly, so grad·σ(−∞) = grad·0.
    let kc = if k < T::SCALE_LIMIT {
        k
    } else {
        T::SCALE_LIMIT
    };
    let scale = T::pow2_neg(kc);
    let negative = x < T::ZERO;
    let rest = k - kc;
    let rest1 = if rest < T::REST_LIMIT {
        rest
    } else {
        T::REST_LIMIT
    };
    let grad = if x == T::NEG_INFINITY {
        grad * T::ZERO
    } else if negative {
        grad * T::pow2_neg(rest1) * T::pow2_neg(rest - rest1)
    } else {
        grad
    };
    let e_hi_scaled = e_hi * scale; // exact
    let e_lo_scaled = e_lo * scale;
    // d = 1 + u = d_hi + d_lo: d_hi within an ulp of d, d_lo the rest (the inner sum is exact)
    let d_hi = e_lo.mul_add(scale, T::ONE + e_hi_scaled);
    let d_lo = e_lo.mul_add(scale, (T::ONE - d_hi) + e_hi_scaled);
    // (n − q·d) is ~6% of n at most, so its rounding errors hardly count
    let (n_hi, n_lo) = if negative {
        (e_hi_scaled, e_lo_scaled)
    } else {
        (T::ONE, T::ZERO)
    };
    let rec = T::ONE / d_hi;
    let q = n_hi * rec;
    let correction = (-q).mul_add(d_hi, n_hi) + (-q).mul_add(d_lo, n_lo);
    // the correction's grad is kept finite, so an infinite grad gives ±∞, not ∞ − ∞
    // (a NaN x is NaN throughout)
    grad.mul_add(q, correction * (grad.clamp_finite() * rec))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::{sigmoid, softplus, Libm, Vectorized};

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
                |x| sigmoid_grad_native(1.0f32, x),
                |x| sigmoid::<Vectorized, false>(x as f64, 1.0),
                |x| sigmoid::<Libm, false>(x as f64, 1.0),
            ),
        );
        report(
            G,
            every_f32(
                |x| sigmoid_grad_native(G, x),
                |x| G as f64 * sigmoid::<Vectorized, false>(x as f64, 1.0),
                |x| G as f64 * sigmoid::<Libm, false>(x as f64, 1.0),
            ),
        );
    }

    /// Every f32 (~100 s on 2 cores): `cargo test --release -- --ignored exhaustive`.
    #[test]
    #[ignore]
    fn softplus_f32_exhaustive() {
        let (worst, x, all, over) = every_f32(
            softplus_native::<f32>,
            |x| softplus::<Vectorized, false>(x as f64, 1.0, f64::INFINITY),
            |x| softplus::<Libm, false>(x as f64, 1.0, f64::INFINITY),
        );
        eprintln!(
            "softplus_f32: results >= 2^-120 max {worst} ULP at x = {x:e}; all results max {all} \
             ULP; {over} results above 0.5 ULP"
        );
        assert!(all <= 1.0);
    }
}
