//! relu and relu_grad: exact; relu keeps integer and bool dtypes.

use super::{map_binary, map_unary, not_a_float, Activation, Arity, Slices};
use crate::kernels::relu::{Relu, ReluGrad};

/// relu(x) = max(0, x), every real dtype.
pub struct Forward;

impl Activation for Forward {
    const ARITY: Arity = Arity::Unary;
    const KEEPS_INTS: bool = true;
    fn run(&self, io: Slices<'_>) {
        match io {
            Slices::F16(io) => map_unary(Relu, io),
            Slices::F32(io) => map_unary(Relu, io),
            Slices::F64(io) => map_unary(Relu, io),
            Slices::I8(io) => map_unary(Relu, io),
            Slices::I16(io) => map_unary(Relu, io),
            Slices::I32(io) => map_unary(Relu, io),
            Slices::I64(io) => map_unary(Relu, io),
            Slices::U8(io) => map_unary(Relu, io),
            Slices::U16(io) => map_unary(Relu, io),
            Slices::U32(io) => map_unary(Relu, io),
            Slices::U64(io) => map_unary(Relu, io),
        }
    }
}

/// grad where x > 0, else 0; NaN where x is NaN.
pub struct Backward;

impl Activation for Backward {
    const ARITY: Arity = Arity::Binary;
    fn run(&self, io: Slices<'_>) {
        match io {
            Slices::F16(io) => map_binary(ReluGrad, io),
            Slices::F32(io) => map_binary(ReluGrad, io),
            Slices::F64(io) => map_binary(ReluGrad, io),
            _ => not_a_float(),
        }
    }
}
