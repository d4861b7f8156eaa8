//! Element types the kernels are generic over.
//!
//! [`ReluElement`] is everything `relu` accepts (floats, signed and unsigned integers, bool).
//! [`Float`] is the float subset every other kernel accepts: `f16` (computed in `f32`), `f32`, `f64`.

use half::f16;

/// An element `relu` can rectify: it has a zero, an order, and (for floats) NaN.
pub trait ReluElement: Copy + PartialOrd + Send + Sync + 'static {
    const ZERO: Self;
    /// `true` only for a floating-point NaN; always `false` for integers.
    fn is_nan(self) -> bool;
}

/// A floating-point element. Arithmetic on `f16` is done in `f32` and rounded once.
pub trait Float: ReluElement {
    /// `true` for f64: its transcendental kernels need every bit of the f64 evaluation, so they
    /// use libm's (scalar) exp/log1p; narrower types use the vectorizable ones in [`crate::math`].
    const WIDE: bool = false;
    fn to_f64(self) -> f64;
    /// Round an `f64` to `Self` (round-to-nearest-even, a single rounding for every type).
    fn from_f64(v: f64) -> Self;
    /// `self * other` rounded once to `Self`.
    fn mul(self, other: Self) -> Self;
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
            #[inline(always)]
            fn is_nan(self) -> bool { <$t>::is_nan(self) }
        }
        impl Float for $t {
            const WIDE: bool = $wide;
            #[inline(always)]
            fn to_f64(self) -> f64 { self as f64 }
            #[inline(always)]
            fn from_f64(v: f64) -> Self { v as $t }
            #[inline(always)]
            fn mul(self, other: Self) -> Self { self * other }
        }
    )*};
}
native_float!(f32 => false, f64 => true);

impl ReluElement for f16 {
    const ZERO: Self = f16::ZERO;
    #[inline(always)]
    fn is_nan(self) -> bool {
        f16::is_nan(self)
    }
}

impl Float for f16 {
    #[inline(always)]
    fn to_f64(self) -> f64 {
        f16::to_f64(self)
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        // `half` rounds f64 -> f16 directly (no double rounding through f32).
        f16::from_f64(v)
    }
    #[inline(always)]
    fn mul(self, other: Self) -> Self {
        // The product of two f16 values is exact in f32 (11 + 11 significant bits <= 24),
        // so this is the correctly rounded f16 product.
        f16::from_f32(self.to_f32() * other.to_f32())
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
    fn nan_detection() {
        assert!(ReluElement::is_nan(f32::NAN));
        assert!(ReluElement::is_nan(f16::NAN));
        assert!(!ReluElement::is_nan(-1i32));
        assert!(!ReluElement::is_nan(0.0f64));
    }
}
