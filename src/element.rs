//! Element types the kernels are generic over.
//!
//! [`ReluElement`] is everything `relu` accepts (floats, signed and unsigned integers, bool).
//! [`Float`] is the float subset every other kernel accepts: `f16` and `bf16` (computed in `f32`),
//! `f32`, `f64`.

use crate::simd::F16c;
use half::{bf16, f16};

/// An element `relu` can rectify: it has a zero, an order, and (for floats) NaN.
pub trait ReluElement: Copy + PartialOrd + Send + Sync + 'static {
    const ZERO: Self;
    /// Whether in-place relu loops over this type must read a staged copy (see
    /// `kernels::elementwise::stage_copy`); `true` for f32 and f64.
    const STAGE_IN_PLACE: bool = false;
    /// `true` only for a floating-point NaN; always `false` for integers.
    fn is_nan(self) -> bool;
    /// `self` if `keep`, else zero (`+0.0` for floats).
    ///
    /// f32 and f64 mask the bits instead of branching, so an in-place loop does not become a
    /// masked store (docs/performance.md).
    #[inline(always)]
    fn keep_or_zero(self, keep: bool) -> Self {
        if keep {
            self
        } else {
            Self::ZERO
        }
    }
}

/// A floating-point element. Arithmetic on `f16` and `bf16` is done in `f32` and rounded once.
pub trait Float: ReluElement {
    /// `true` for f64: its transcendental kernels need every bit of the f64 evaluation, so they
    /// use libm's (scalar) exp/log1p; narrower types use the vectorizable ones in [`crate::math`].
    const IS_F64: bool = false;
    fn to_f64(self) -> f64;
    /// Round an `f64` to `Self`, fast enough for kernels: a single round-to-nearest-even for f32
    /// and f64; for f16 through f32 (two roundings, within one f16 ULP of the exact value).
    fn from_f64(v: f64) -> Self;
    /// Round an `f64` to `Self` with one round-to-nearest-even for every type, as NumPy casts.
    /// For parameters (α), where a different value would change every result.
    #[inline]
    fn round_from_f64(v: f64) -> Self {
        Self::from_f64(v)
    }
    /// The NaN every kernel returns when it computes one (rather than returning a NaN input
    /// unchanged): quiet, positive, no payload. Hardware and the compiler leave a computed NaN's
    /// sign and payload open; fixing them makes every SIMD path (and platform) give the same bits.
    const CANONICAL_NAN: Self;
    /// `self * other` rounded once to `Self`; [`Float::CANONICAL_NAN`] where the product is NaN.
    fn mul(self, other: Self) -> Self;
    /// `self`, or [`Float::CANONICAL_NAN`] where `self` is NaN.
    #[inline(always)]
    fn canonical(self) -> Self {
        if self.is_nan() {
            Self::CANONICAL_NAN
        } else {
            self
        }
    }
}

macro_rules! relu_int {
    ($($t:ty),*) => {$(
        impl ReluElement for $t {
            const ZERO: Self = 0;
            #[inline(always)]
            fn is_nan(self) -> bool { false }
        }
    )*};
}
relu_int!(i8, i16, i32, i64, u8, u16, u32, u64);

impl ReluElement for bool {
    const ZERO: Self = false;
    #[inline(always)]
    fn is_nan(self) -> bool {
        false
    }
}

macro_rules! native_float {
    ($($t:ty => $wide:expr),*) => {$(
        impl ReluElement for $t {
            const ZERO: Self = 0.0;
            const STAGE_IN_PLACE: bool = true;
            #[inline(always)]
            fn is_nan(self) -> bool { <$t>::is_nan(self) }
            #[inline(always)]
            fn keep_or_zero(self, keep: bool) -> Self {
                // all ones or all zeros
                let mask = (keep as <$t as NativeBits>::Bits).wrapping_neg();
                <$t>::from_bits(self.to_bits() & mask)
            }
        }
        impl Float for $t {
            const IS_F64: bool = $wide;
            const CANONICAL_NAN: Self = <$t>::NAN;
            #[inline(always)]
            fn to_f64(self) -> f64 { self as f64 }
            #[inline(always)]
            fn from_f64(v: f64) -> Self { v as $t }
            #[inline(always)]
            fn mul(self, other: Self) -> Self { (self * other).canonical() }
        }
    )*};
}
native_float!(f32 => false, f64 => true);

/// The unsigned integer with a float's bits.
trait NativeBits {
    type Bits;
}
impl NativeBits for f32 {
    type Bits = u32;
}
impl NativeBits for f64 {
    type Bits = u64;
}

impl ReluElement for f16 {
    const ZERO: Self = f16::ZERO;
    #[inline(always)]
    fn is_nan(self) -> bool {
        // exponent all ones and a non-zero mantissa; integer ops, so loops vectorize
        self.to_bits() & 0x7fff > 0x7c00
    }
}

/// f16 → f32, exactly, branch-free (selects only), so conversion loops vectorize on every SIMD
/// path. Subnormals are renormalised with one exact float subtraction; NaN stays NaN (payload
/// kept, quiet bit as given).
#[inline(always)]
pub fn f16_to_f32(h: u16) -> f32 {
    const SHIFTED_EXP: u32 = 0x7c00 << 13; // f16 exponent mask, moved to f32's position
    const MAGIC: f32 = 6.103_515_6e-5; // 2^-14 = the value 113 << 23 has as f32
    let mut o = (h as u32 & 0x7fff) << 13; // exponent and mantissa
    let exp = o & SHIFTED_EXP;
    o += (127 - 15) << 23; // rebias
    let inf_nan = o + ((128 - 16) << 23);
    let sub = f32::from_bits(o + (1 << 23)) - MAGIC; // renormalise subnormals (exact)
    let bits = if exp == SHIFTED_EXP {
        inf_nan
    } else if exp == 0 {
        sub.to_bits()
    } else {
        o
    };
    f32::from_bits(bits | ((h as u32 & 0x8000) << 16))
}

/// f32 → f16, round to nearest even, branch-free (selects only). Overflow → ±inf, NaN → a quiet
/// NaN, subnormal results rounded once through an exact float addition.
#[inline(always)]
pub fn f32_to_f16(f: f32) -> u16 {
    const F32_INF: u32 = 255 << 23;
    const F16_MAX: u32 = (127 + 16) << 23; // first f32 that rounds to f16 infinity's exponent
    const DENORM_MAGIC: u32 = ((127 - 15) + (23 - 10) + 1) << 23;
    let bits = f.to_bits();
    let sign = bits & 0x8000_0000;
    let x = bits ^ sign;
    // NaN → quiet NaN, inf and overflow → inf
    let big = if x > F32_INF { 0x7e00 } else { 0x7c00 };
    // results in f16's subnormal range (and zero): let the FPU round at the right place
    let sub = (f32::from_bits(x) + f32::from_bits(DENORM_MAGIC))
        .to_bits()
        .wrapping_sub(DENORM_MAGIC);
    // normal results: rebias, round to nearest even on the 13 dropped bits
    let odd = (x >> 13) & 1;
    // (wrapping: for NaN and huge x the sum overflows, and is then not the one selected)
    let normal = x
        .wrapping_add(((15u32).wrapping_sub(127) << 23).wrapping_add(0xfff))
        .wrapping_add(odd)
        >> 13;
    let h = if x >= F16_MAX {
        big
    } else if x < (113 << 23) {
        sub
    } else {
        normal
    };
    (h | (sign >> 16)) as u16
}

/// `v` rounded to f32 toward zero, with the last bit set where that was inexact (round to odd):
/// rounding this to a format with at least 2 fewer significant bits, to nearest, is one correct
/// rounding of `v`. Branch-free (selects), so loops over it vectorize. NaN stays NaN.
#[inline(always)]
pub fn f32_round_to_odd(v: f64) -> f32 {
    let near = v as f32;
    let back = near as f64;
    // the neighbour toward zero where rounding went away from it (never for NaN or exact)
    let toward_zero = near.to_bits() - u32::from(back.abs() > v.abs());
    f32::from_bits(if back == v || v.is_nan() {
        near.to_bits()
    } else {
        toward_zero | 1
    })
}

impl Float for f16 {
    const CANONICAL_NAN: Self = f16::from_bits(0x7e00);
    #[inline(always)]
    fn to_f64(self) -> f64 {
        f16_to_f32(self.to_bits()) as f64
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        // f64 → f32 → f16 can round twice; callers of from_f64 pass approximations (softplus:
        // a few f64-ULP from exact), so the f16 result stays within 1 f16-ULP either way, and the
        // exact products of `mul` below round once.
        f16::from_bits(f32_to_f16(v as f32))
    }
    #[inline]
    fn round_from_f64(v: f64) -> Self {
        // Round to odd into f32, then to nearest into f16: f32's 13 extra bits make the pair one
        // correct rounding. (`half`'s f64 conversion goes through a nearest-rounded f32, or
        // truncates the low 32 bits, so it can round twice.)
        f16::from_bits(f32_to_f16(f32_round_to_odd(v)))
    }
    #[inline(always)]
    fn mul(self, other: Self) -> Self {
        // The product of two f16 values is exact in f32 (11 + 11 significant bits <= 24),
        // so this is the correctly rounded f16 product.
        let p = f16_to_f32(self.to_bits()) * f16_to_f32(other.to_bits());
        f16::from_bits(f32_to_f16(p.canonical()))
    }
}

impl ReluElement for bf16 {
    const ZERO: Self = bf16::ZERO;
    #[inline(always)]
    fn is_nan(self) -> bool {
        self.to_bits() & 0x7fff > 0x7f80
    }
}

/// bf16 → f32, exactly: bf16 is f32's upper half, so a shift (NaN payloads and signalling bits
/// kept).
#[inline(always)]
pub fn bf16_to_f32(b: u16) -> f32 {
    f32::from_bits(u32::from(b) << 16)
}

/// f32 → bf16, round to nearest even, in integer arithmetic (so loops vectorize): add half an
/// ULP less one plus the kept part's last bit, drop the low 16 bits. Overflow carries into the
/// exponent and gives ±inf; subnormals round like normals. NaN → the same NaN's upper half,
/// quiet.
#[inline(always)]
pub fn f32_to_bf16(f: f32) -> u16 {
    let bits = f.to_bits();
    let rounded = bits.wrapping_add(0x7fff + ((bits >> 16) & 1)) >> 16;
    let quiet_nan = (bits >> 16) | 0x40;
    (if bits & 0x7fff_ffff > 0x7f80_0000 {
        quiet_nan
    } else {
        rounded
    }) as u16
}

impl Float for bf16 {
    const CANONICAL_NAN: Self = bf16::from_bits(0x7fc0);
    #[inline(always)]
    fn to_f64(self) -> f64 {
        bf16_to_f32(self.to_bits()) as f64
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        // through f32, as for f16: within 1 bf16-ULP of an f64 approximation
        bf16::from_bits(f32_to_bf16(v as f32))
    }
    #[inline]
    fn round_from_f64(v: f64) -> Self {
        // round to odd into f32 (16 bits more than bf16), then once to nearest
        bf16::from_bits(f32_to_bf16(f32_round_to_odd(v)))
    }
    #[inline(always)]
    fn mul(self, other: Self) -> Self {
        // 8 + 8 significant bits: the f32 product is exact, so this rounds once
        let p = bf16_to_f32(self.to_bits()) * bf16_to_f32(other.to_bits());
        bf16::from_bits(f32_to_bf16(p.canonical()))
    }
}

/// `dst[i] = src[i] as f32` (exact); with F16C where the token is given.
#[inline]
pub fn widen_f16(src: &[f16], dst: &mut [f32], f16c: Option<F16c>) {
    #[cfg(target_arch = "x86_64")]
    if let Some(_proof) = f16c {
        // SAFETY: the token proves the CPU has F16C and AVX2.
        unsafe { crate::simd::x86::f16c::convert::widen_f16c(src, dst) };
        return;
    }
    let _ = f16c;
    for (d, s) in dst.iter_mut().zip(src) {
        *d = f16_to_f32(s.to_bits());
    }
}

/// `dst[i] = src[i]` rounded to f16 (nearest even, once); with F16C where the token is given.
#[inline]
pub fn narrow_f16(src: &[f32], dst: &mut [f16], f16c: Option<F16c>) {
    #[cfg(target_arch = "x86_64")]
    if let Some(_proof) = f16c {
        // SAFETY: as in widen_f16.
        unsafe { crate::simd::x86::f16c::convert::narrow_f16c(src, dst) };
        return;
    }
    let _ = f16c;
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = f16::from_bits(f32_to_f16(s));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_mul_is_correctly_rounded() {
        let a = f16::from_f32(0.1);
        let b = f16::from_f32(3.0);
        let exact = a.to_f64() * b.to_f64();
        assert_eq!(a.mul(b), f16::from_f64(exact));
    }

    #[test]
    fn f16_round_from_f64_rounds_once() {
        // just above the midpoint of 1 and 1 + 2⁻¹⁰: f32 rounds it to the midpoint first, and the
        // tie then goes to even (1.0); one rounding gives 1 + 2⁻¹⁰
        let v = 1.0 + 2f64.powi(-11) + 2f64.powi(-40);
        assert_eq!(f16::round_from_f64(v).to_f64(), 1.0 + 2f64.powi(-10));
        assert_eq!(<f16 as Float>::from_f64(v).to_f64(), 1.0);
        // every midpoint between neighbouring f16 values, and the f64s on either side of it
        for h in 0..0x7bffu16 {
            let (lo, hi) = (f16::from_bits(h).to_f64(), f16::from_bits(h + 1).to_f64());
            let mid = (lo + hi) / 2.0;
            let even = if h % 2 == 0 { h } else { h + 1 };
            for (v, want) in [(mid.next_down(), h), (mid, even), (mid.next_up(), h + 1)] {
                assert_eq!(f16::round_from_f64(v).to_bits(), want, "{v:e}");
                assert_eq!(f16::round_from_f64(-v).to_bits(), want | 0x8000, "{v:e}");
            }
        }
        let max = f16::MAX.to_f64();
        let overflow = max + 16.0; // max plus half an ulp: ties away from the odd max, to inf
        assert_eq!(f16::round_from_f64(overflow.next_down()), f16::MAX);
        assert_eq!(f16::round_from_f64(overflow), f16::INFINITY);
        assert_eq!(f16::round_from_f64(1e300), f16::INFINITY);
        assert_eq!(f16::round_from_f64(-1e-300).to_bits(), 0x8000);
        assert!(f16::round_from_f64(f64::NAN).is_nan());
    }

    #[test]
    fn f16_to_f32_matches_half_on_every_value() {
        for bits in 0..=u16::MAX {
            let ours = f16_to_f32(bits);
            let theirs = f16::from_bits(bits).to_f32();
            if theirs.is_nan() {
                assert!(ours.is_nan(), "{bits:#x}");
            } else {
                assert_eq!(ours.to_bits(), theirs.to_bits(), "{bits:#x}");
            }
        }
    }

    #[test]
    fn f32_to_f16_matches_half() {
        // every f32 in a dense stride over all bit patterns, plus every f16 value and midpoint
        let check = |f: f32| {
            let ours = f32_to_f16(f);
            let theirs = f16::from_f32(f).to_bits();
            if f.is_nan() {
                assert!(f16::from_bits(ours).is_nan(), "{f:e}");
            } else {
                assert_eq!(ours, theirs, "{f:e} ({:#x})", f.to_bits());
            }
        };
        for bits in (0..=u32::MAX).step_by(4093) {
            check(f32::from_bits(bits));
        }
        for h in 0..0x7c00u16 {
            let lo = f16::from_bits(h).to_f32();
            let hi = f16::from_bits(h + 1).to_f32();
            for f in [
                lo,
                (lo + hi) * 0.5,
                lo.next_up(),
                ((lo + hi) * 0.5).next_down(),
            ] {
                check(f);
                check(-f);
            }
        }
        for f in [
            f32::INFINITY,
            65504.0,
            65519.99,
            65520.0,
            1e10,
            f32::MIN_POSITIVE,
        ] {
            check(f);
            check(-f);
        }
    }

    #[test]
    fn block_conversions_match_the_scalar_ones_on_every_value() {
        let all: Vec<f16> = (0..=u16::MAX).map(f16::from_bits).collect();
        let hw = F16c::detect();
        let mut wide = vec![0.0f32; all.len()];
        widen_f16(&all, &mut wide, hw);
        for (h, w) in all.iter().zip(&wide) {
            let want = f16_to_f32(h.to_bits());
            assert!(w.to_bits() == want.to_bits() || (w.is_nan() && want.is_nan()));
        }
        // every f16 value, each midpoint and its neighbours, and overflow
        let mut probe: Vec<f32> = Vec::new();
        for h in 0..0x7bffu16 {
            let (lo, hi) = (f16_to_f32(h), f16_to_f32(h + 1));
            let mid = (lo + hi) * 0.5;
            probe.extend([lo, mid, mid.next_up(), mid.next_down(), -mid]);
        }
        probe.extend([65520.0, 65519.99, 1e10, f32::INFINITY, -f32::INFINITY]);
        let mut narrow = vec![f16::ZERO; probe.len()];
        narrow_f16(&probe, &mut narrow, hw);
        for (p, n) in probe.iter().zip(&narrow) {
            assert_eq!(n.to_bits(), f32_to_f16(*p), "{p:e}");
        }
    }

    #[test]
    fn bf16_conversions_match_half_on_every_value_and_midpoint() {
        for bits in 0..=u16::MAX {
            let ours = bf16_to_f32(bits);
            // the bits exactly (half quiets a signalling NaN; ours is kept as it was)
            assert_eq!(ours.to_bits(), u32::from(bits) << 16, "{bits:#x}");
            let theirs = bf16::from_bits(bits).to_f32();
            assert!(
                ours == theirs || (ours.is_nan() && theirs.is_nan()),
                "{bits:#x}"
            );
            // round trip keeps every non-NaN value, and quiets NaNs keeping their payload
            let back = f32_to_bf16(ours);
            if ReluElement::is_nan(bf16::from_bits(bits)) {
                assert_eq!(back, bits | 0x40, "{bits:#x}");
            } else {
                assert_eq!(back, bits, "{bits:#x}");
            }
        }
        // every f32 in a dense stride: half's round-to-nearest-even (its NaNs aside)
        for bits in (0..=u32::MAX).step_by(997) {
            let f = f32::from_bits(bits);
            if !f.is_nan() {
                assert_eq!(f32_to_bf16(f), bf16::from_f32(f).to_bits(), "{bits:#x}");
            }
        }
        // ties: to even, in both directions, and to infinity past the largest finite value
        assert_eq!(f32_to_bf16(f32::from_bits(0x3f80_8000)), 0x3f80);
        assert_eq!(f32_to_bf16(f32::from_bits(0x3f81_8000)), 0x3f82);
        assert_eq!(f32_to_bf16(f32::from_bits(0x3f80_8001)), 0x3f81);
        assert_eq!(f32_to_bf16(f32::from_bits(0x7f7f_7fff)), 0x7f7f);
        assert_eq!(f32_to_bf16(f32::from_bits(0x7f7f_8000)), 0x7f80);
        assert_eq!(f32_to_bf16(f32::MAX), 0x7f80);
        assert_eq!(f32_to_bf16(-f32::MAX), 0xff80);
    }

    #[test]
    fn bf16_round_from_f64_rounds_once() {
        let max = bf16::MAX.to_f64();
        for h in (0..0x7f7fu16).step_by(3) {
            let (lo, hi) = (bf16::from_bits(h).to_f64(), bf16::from_bits(h + 1).to_f64());
            let mid = (lo + hi) / 2.0;
            let even = if h % 2 == 0 { h } else { h + 1 };
            for (v, want) in [(mid.next_down(), h), (mid, even), (mid.next_up(), h + 1)] {
                assert_eq!(bf16::round_from_f64(v).to_bits(), want, "{v:e}");
                assert_eq!(bf16::round_from_f64(-v).to_bits(), want | 0x8000, "{v:e}");
            }
        }
        let overflow = max + 2f64.powi(119); // max plus half an ULP: a tie, away from odd max
        assert_eq!(bf16::round_from_f64(overflow.next_down()), bf16::MAX);
        assert_eq!(bf16::round_from_f64(overflow), bf16::INFINITY);
        assert_eq!(bf16::round_from_f64(1e300), bf16::INFINITY);
        assert_eq!(bf16::round_from_f64(-1e-300).to_bits(), 0x8000);
        assert!(ReluElement::is_nan(bf16::round_from_f64(f64::NAN)));
    }

    #[test]
    fn bf16_mul_is_correctly_rounded() {
        for (a, b) in [(0.1f32, 3.0f32), (1.0078125, 1.0078125), (-3.0e38, 2.0)] {
            let (a, b) = (bf16::from_f32(a), bf16::from_f32(b));
            let exact = a.to_f64() * b.to_f64();
            assert_eq!(a.mul(b), bf16::round_from_f64(exact));
        }
        assert_eq!(
            bf16::INFINITY.mul(bf16::ZERO).to_bits(),
            bf16::CANONICAL_NAN.to_bits()
        );
    }

    #[test]
    fn nan_detection() {
        assert!(ReluElement::is_nan(f32::NAN));
        assert!(ReluElement::is_nan(f16::NAN));
        assert!(ReluElement::is_nan(bf16::NAN));
        assert!(ReluElement::is_nan(bf16::from_bits(0xff81)));
        assert!(!ReluElement::is_nan(bf16::INFINITY));
        assert!(!ReluElement::is_nan(-1i32));
        assert!(!ReluElement::is_nan(0.0f64));
    }
}
