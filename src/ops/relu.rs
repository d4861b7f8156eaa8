//! relu and relu_grad, optionally clipped at `max_value` (ReLU6 and friends): exact; relu keeps
//! integer and bool dtypes.

use super::{map_binary, map_unary, not_a_float, Activation, Arity, Io, Slices};
use crate::element::{Float, ReluElement};
use crate::kernels::relu::{ClippedRelu, ClippedReluGrad, Relu, ReluGrad};
use half::f16;

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
float_bound!(f16, f32, f64);

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
    }
}
