//! softplus and its gradient. β = 1 runs in the element type's own precision (float16 and
//! bfloat16 in f32); other β in f64, rounded once.

use super::{
    map_binary, map_binary_floats, map_unary, map_unary_floats, not_a_float, Activation, Arity,
    Slices,
};
use crate::kernels::elementwise::{BinaryF16, UnaryF16};
use crate::kernels::softplus::{
    SoftplusGradFromOutput, SoftplusGradScaled, SoftplusGradUnit, SoftplusScaled, SoftplusUnit,
};
use crate::parallel::for_each_chunk;
use crate::simd::F16c;

/// log(1 + exp(β·x))/β; x where β·x > threshold.
pub struct Forward {
    pub beta: f64,
    pub threshold: f64,
}

impl Activation for Forward {
    const ARITY: Arity = Arity::Unary;
    fn run(&self, io: Slices<'_>) {
        let (beta, threshold) = (self.beta, self.threshold);
        if beta != 1.0 {
            return map_unary_floats(SoftplusScaled::new(beta, threshold), io);
        }
        let op = SoftplusUnit { threshold };
        match io {
            // float16 through the f32 kernel, converted by F16C
            Slices::F16(io) if F16c::detect().is_some() => {
                let work = UnaryF16 {
                    op,
                    x: io.inputs[0],
                    f16c: F16c::detect(),
                };
                for_each_chunk(io.out, &work)
            }
            Slices::F16(io) => map_unary(op, io),
            Slices::BF16(io) => map_unary(op, io),
            Slices::F32(io) => map_unary(op, io),
            Slices::F64(io) => map_unary(op, io),
            _ => not_a_float(),
        }
    }
}

/// grad·σ(β·x); grad where β·x > threshold. With `from_output` the second input is y =
/// softplus(x) and σ(β·x) = 1 − e^(−β·y); grad where β·y > threshold.
pub struct Backward {
    pub beta: f64,
    pub threshold: f64,
    pub from_output: bool,
}

impl Activation for Backward {
    const ARITY: Arity = Arity::Binary;
    fn run(&self, io: Slices<'_>) {
        let (beta, threshold) = (self.beta, self.threshold);
        if self.from_output {
            return map_binary_floats(SoftplusGradFromOutput { beta, threshold }, io);
        }
        if beta != 1.0 {
            return map_binary_floats(SoftplusGradScaled { beta, threshold }, io);
        }
        let op = SoftplusGradUnit { threshold };
        match io {
            Slices::F16(io) if F16c::detect().is_some() => {
                let work = BinaryF16 {
                    op,
                    grad: io.inputs[0],
                    x: io.inputs[1],
                    f16c: F16c::detect(),
                };
                for_each_chunk(io.out, &work)
            }
            Slices::F16(io) => map_binary(op, io),
            Slices::BF16(io) => map_binary(op, io),
            Slices::F32(io) => map_binary(op, io),
            Slices::F64(io) => map_binary(op, io),
            _ => not_a_float(),
        }
    }
}
