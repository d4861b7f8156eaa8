//! leaky_relu and its gradient, one α for every element.

use super::{map_binary, map_unary, not_a_float, Activation, Arity, Io, Slices};
use crate::element::Float;
use crate::kernels::leaky_relu::{LeakyRelu, LeakyReluF16c, LeakyReluGrad, LeakyReluGradF16c};
#[cfg(target_arch = "x86_64")]
use crate::kernels::leaky_relu::{LeakyReluBf16, LeakyReluGradBf16};
use crate::parallel::for_each_chunk;
use crate::simd::F16c;
use half::{bf16, f16};

/// x if x > 0 else α·x; α is rounded once to the element type, or to f32 for f16 and bf16 data
/// (PyTorch's opmath), and α·x is rounded once from the exact product.
pub struct Forward {
    pub alpha: f64,
}

impl Activation for Forward {
    const ARITY: Arity = Arity::Unary;
    fn run(&self, io: Slices<'_>) {
        match io {
            Slices::F16(io) => forward_f16(self.alpha, io),
            Slices::BF16(io) => forward_bf16(self.alpha, io),
            Slices::F32(io) => map_unary(
                LeakyRelu {
                    alpha: f32::round_from_f64(self.alpha),
                },
                io,
            ),
            Slices::F64(io) => map_unary(LeakyRelu { alpha: self.alpha }, io),
            _ => not_a_float(),
        }
    }
}

/// float16: the one-pass F16C kernel where the CPU has it, else the generic one.
fn forward_f16(alpha: f64, io: Io<'_, f16>) {
    let alpha = f32::round_from_f64(alpha);
    match F16c::detect() {
        Some(cpu) => {
            let work = LeakyReluF16c {
                x: io.inputs[0],
                alpha,
                cpu,
            };
            for_each_chunk(io.out, &work);
        }
        None => map_unary(LeakyRelu { alpha }, io),
    }
}

/// bfloat16: the one-pass AVX2/AVX-512 kernel where the CPU has it, else the generic one.
fn forward_bf16(alpha: f64, io: Io<'_, bf16>) {
    let alpha = f32::round_from_f64(alpha);
    #[cfg(target_arch = "x86_64")]
    if let Some(cpu) = F16c::detect() {
        let work = LeakyReluBf16 {
            x: io.inputs[0],
            alpha,
            cpu,
        };
        return for_each_chunk(io.out, &work);
    }
    map_unary(LeakyRelu { alpha }, io)
}

/// grad if x > 0 else α·grad (α at x = 0); NaN where x is NaN.
pub struct Backward {
    pub alpha: f64,
}

impl Activation for Backward {
    const ARITY: Arity = Arity::Binary;
    fn run(&self, io: Slices<'_>) {
        match io {
            Slices::F16(io) => {
                let alpha = f32::round_from_f64(self.alpha);
                if let Some(cpu) = F16c::detect() {
                    let work = LeakyReluGradF16c {
                        grad: io.inputs[0],
                        x: io.inputs[1],
                        alpha,
                        cpu,
                    };
                    for_each_chunk(io.out, &work);
                } else {
                    map_binary(LeakyReluGrad { alpha }, io);
                }
            }
            Slices::BF16(io) => backward_bf16(self.alpha, io),
            Slices::F32(io) => map_binary(
                LeakyReluGrad {
                    alpha: f32::round_from_f64(self.alpha),
                },
                io,
            ),
            Slices::F64(io) => map_binary(LeakyReluGrad { alpha: self.alpha }, io),
            _ => not_a_float(),
        }
    }
}

/// bfloat16: the one-pass AVX2/AVX-512 kernel where the CPU has it, else the generic one.
fn backward_bf16(alpha: f64, io: Io<'_, bf16>) {
    let alpha = f32::round_from_f64(alpha);
    #[cfg(target_arch = "x86_64")]
    if let Some(cpu) = F16c::detect() {
        let work = LeakyReluGradBf16 {
            grad: io.inputs[0],
            x: io.inputs[1],
            alpha,
            cpu,
        };
        return for_each_chunk(io.out, &work);
    }
    map_binary(LeakyReluGrad { alpha }, io)
}
