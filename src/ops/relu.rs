//! relu and relu_grad, optionally clipped at `max_value` (ReLU6 and friends): exact; relu keeps
//! integer and bool dtypes.

use super::{map_binary, map_unary, not_a_float, Activation, Arity, Io, Slices};
use crate::element::{Float, ReluElement};
use crate::kernels::relu::{ClippedRelu, ClippedReluGrad, Relu, ReluGrad};
use half::{bf16, f16};

/// relu's upper bound, checked: never NaN or negative; +∞ is no bound at all (`None`). Rounded
/// once to a float x's dtype here (so the clipped result is the correctly rounded
/// min(max(0, x), max_value)), saturated to an integer x's range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MaxValue {
    /// A float (for float x only).
    Float(f64),
    /// An integer, exactly.
    Int(u128),
}

/// The bound as a value of the element type.
trait Bound: ReluElement {
    fn bound(m: MaxValue) -> Self;
}

macro_rules! float_bound {
    ($($t:ty),*) => {$(
        impl Bound for $t {
            #[inline]
            fn bound(m: MaxValue) -> $t {
                match m {
                    MaxValue::Float(v) => <$t>::round_from_f64(v),
                    MaxValue::Int(i) => <$t>::round_from_int(i),
                }
            }
        }
    )*};
}
float_bound!(f16, bf16, f32, f64);

/// An integer rounded once to the float type.
trait FromInt {
    fn round_from_int(i: u128) -> Self;
}

impl FromInt for f32 {
    fn round_from_int(i: u128) -> f32 {
        i as f32 // Rust's int-to-float casts round to nearest, ties to even
    }
}

impl FromInt for f64 {
    fn round_from_int(i: u128) -> f64 {
        i as f64
    }
}

impl FromInt for f16 {
    fn round_from_int(i: u128) -> f16 {
        // exact in f64 up to 2^53, and anything past f16's 65504 rounds to +∞ either way
        f16::round_from_f64(i as f64)
    }
}

impl FromInt for bf16 {
    fn round_from_int(i: u128) -> bf16 {
        // Above 2^53 `as f64` would round to nearest (and bf16 then again): keep the top 53 bits
        // rounded to odd instead (the lost bits as a sticky last bit), which round_from_f64's
        // round-to-odd and single rounding to nearest carry through as one rounding.
        let top = 127 - i.leading_zeros() as i32; // -1 for 0
        if top <= 52 {
            return bf16::round_from_f64(i as f64);
        }
        let shift = (top - 52) as u32;
        let sticky = u128::from(i & ((1u128 << shift) - 1) != 0);
        let odd = ((i >> shift) | sticky) as u64;
        bf16::round_from_f64(odd as f64 * 2f64.powi(shift as i32))
    }
}

macro_rules! int_bound {
    ($($t:ty),*) => {$(
        impl Bound for $t {
            #[inline]
            fn bound(m: MaxValue) -> $t {
                match m {
                    // `as` from a float saturates; from i128 it would wrap, so clamp first
                    MaxValue::Float(v) => v as $t,
                    MaxValue::Int(i) => i.min(<$t>::MAX as u128) as $t,
                }
            }
        }
    )*};
}
int_bound!(i8, i16, i32, i64, u8, u16, u32, u64);

/// relu(x) = max(0, x), or min(max(0, x), max_value), every real dtype.
pub struct Forward {
    pub max_value: Option<MaxValue>,
}

fn forward<T: Bound>(io: Io<'_, T>, max_value: Option<MaxValue>) {
    match max_value {
        None => map_unary(Relu, io),
        Some(m) => map_unary(ClippedRelu { max: T::bound(m) }, io),
    }
}

impl Activation for Forward {
    const ARITY: Arity = Arity::Unary;
    const KEEPS_INTS: bool = true;
    fn run(&self, io: Slices<'_>) {
        let m = self.max_value;
        match io {
            Slices::F16(io) => forward(io, m),
            Slices::BF16(io) => forward(io, m),
            Slices::F32(io) => forward(io, m),
            Slices::F64(io) => forward(io, m),
            Slices::I8(io) => forward(io, m),
            Slices::I16(io) => forward(io, m),
            Slices::I32(io) => forward(io, m),
            Slices::I64(io) => forward(io, m),
            Slices::U8(io) => forward(io, m),
            Slices::U16(io) => forward(io, m),
            Slices::U32(io) => forward(io, m),
            Slices::U64(io) => forward(io, m),
        }
    }
}

/// grad where 0 < x (< max_value), else 0; NaN where x is NaN.
pub struct Backward {
    pub max_value: Option<MaxValue>,
}

fn backward<T: Bound + Float>(io: Io<'_, T>, max_value: Option<MaxValue>) {
    match max_value {
        None => map_binary(ReluGrad, io),
        Some(m) => map_binary(ClippedReluGrad { max: T::bound(m) }, io),
    }
}

impl Activation for Backward {
    const ARITY: Arity = Arity::Binary;
    fn run(&self, io: Slices<'_>) {
        let m = self.max_value;
        match io {
            Slices::F16(io) => backward(io, m),
            Slices::BF16(io) => backward(io, m),
            Slices::F32(io) => backward(io, m),
            Slices::F64(io) => backward(io, m),
            _ => not_a_float(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_round_once_and_saturate() {
        // 0.1 is between two f16 values; the bound is the nearer one, rounded once
        assert_eq!(f16::bound(MaxValue::Float(0.1)), f16::round_from_f64(0.1));
        assert_eq!(f32::bound(MaxValue::Float(1e300)), f32::INFINITY);
        assert_eq!(i8::bound(MaxValue::Int(1000)), i8::MAX);
        assert_eq!(u8::bound(MaxValue::Int(6)), 6);
        assert_eq!(
            i64::bound(MaxValue::Int(i64::MAX as u128 - 1)),
            i64::MAX - 1
        );
        assert_eq!(u64::bound(MaxValue::Int(u128::MAX)), u64::MAX);
        assert_eq!(u16::bound(MaxValue::Float(1e300)), u16::MAX);
        // bf16: an int just above a midpoint of two bf16 values, beyond f64's 53 bits, rounds
        // up (through f64 it would land on the midpoint and tie to even, down)
        let (lo, step) = (1u128 << 70, 1u128 << 63); // bf16 values 2^70 and 2^70 + 2^63
        let above_mid = lo + step / 2 + 1;
        assert_eq!(
            bf16::bound(MaxValue::Int(above_mid)).to_f64(),
            (lo + step) as f64
        );
        assert_eq!(
            bf16::bound(MaxValue::Int(lo + step / 2)).to_f64(),
            lo as f64
        );
        assert_eq!(bf16::bound(MaxValue::Int(u128::MAX)), bf16::INFINITY);
        assert_eq!(bf16::bound(MaxValue::Int(6)).to_f64(), 6.0);
    }
}
