//! PReLU forward and its fused backward: one α per channel.
//!
//! The planned buffers are one memory order; the flat array is `(outer, channels, inner)` in it,
//! `inner` being the elements per channel run: the product of the axes after the channel axis in
//! C order, of those before it in F order ([`ChannelRuns`]). A shared α is one channel
//! whose run is the whole array.

use super::{not_a_float, Activation, Arity, Io, Order, Slices};
use crate::element::Float;
use crate::kernels::prelu::prelu_grad;
#[cfg(target_arch = "x86_64")]
use crate::kernels::prelu::PreluBf16;
use crate::kernels::prelu::{Prelu, PreluF16c, PreluGradElement};
use crate::parallel::for_each_chunk;
use crate::simd::F16c;

/// Elements per channel run, in C and in F order.
#[derive(Clone, Copy, Debug)]
pub struct ChannelRuns {
    pub c_order: usize,
    pub f_order: usize,
}

impl ChannelRuns {
    pub fn for_order(self, order: Order) -> usize {
        match order {
            Order::C => self.c_order,
            Order::F => self.f_order,
        }
    }
}

/// x if x > 0 else α[c]·x.
pub struct Forward {
    pub runs: ChannelRuns,
}

impl Activation for Forward {
    const ARITY: Arity = Arity::Unary;
    fn run(&self, io: Slices<'_>) {
        match io {
            Slices::F16(io) => {
                let inner = self.runs.for_order(io.order);
                let alpha = repeated_for_rows(io.alpha, inner);
                match F16c::detect() {
                    Some(cpu) => {
                        let work = PreluF16c::new(io.inputs[0], &alpha, inner, cpu);
                        for_each_chunk(io.out, &work);
                    }
                    None => self.generic(io),
                }
            }
            Slices::BF16(io) => {
                #[cfg(target_arch = "x86_64")]
                if let Some(cpu) = F16c::detect() {
                    let inner = self.runs.for_order(io.order);
                    let work = PreluBf16 {
                        x: io.inputs[0],
                        alpha: &repeated_for_rows(io.alpha, inner),
                        inner,
                        cpu,
                    };
                    return for_each_chunk(io.out, &work);
                }
                self.generic(io)
            }
            Slices::F32(io) => self.generic(io),
            Slices::F64(io) => self.generic(io),
            _ => not_a_float(),
        }
    }
}

impl Forward {
    fn generic<T: Float>(&self, io: Io<'_, T>) {
        let inner = self.runs.for_order(io.order);
        let work = Prelu {
            x: io.inputs[0],
            alpha: &repeated_for_rows(io.alpha, inner),
            inner,
        };
        for_each_chunk(io.out, &work);
    }
}

/// Channel-innermost rows of fewer than [`MIN_ROW`] channels: α repeated so one run spans several
/// rows (α[c] repeated k times is the α of a layer with k·C channels over the same data), since
/// each run pays a loop set-up that a row of 16 channels does not repay. Else α itself.
fn repeated_for_rows<T: Copy>(alpha: &[T], inner: usize) -> std::borrow::Cow<'_, [T]> {
    const MIN_ROW: usize = 256;
    if inner != 1 || alpha.len() >= MIN_ROW || alpha.is_empty() {
        return std::borrow::Cow::Borrowed(alpha);
    }
    let rows = MIN_ROW.div_ceil(alpha.len());
    std::borrow::Cow::Owned(alpha.repeat(rows))
}

/// grad_x = grad if x > 0 else α[c]·grad, and per channel Σ grad·min(0, x) into `alpha_grad`, in
/// one pass.
pub struct Backward {
    pub runs: ChannelRuns,
}

impl Activation for Backward {
    const ARITY: Arity = Arity::Binary;
    fn run(&self, io: Slices<'_>) {
        match io {
            Slices::F16(io) => self.fused(io),
            Slices::BF16(io) => self.fused(io),
            Slices::F32(io) => self.fused(io),
            Slices::F64(io) => self.fused(io),
            _ => not_a_float(),
        }
    }
}

impl Backward {
    fn fused<T: PreluGradElement>(&self, io: Io<'_, T>) {
        let inner = self.runs.for_order(io.order);
        let [grad, x] = io.inputs;
        prelu_grad(grad, x, io.out, io.alpha, inner, io.alpha_grad);
    }
}
