//! The 8-bit quantized activations: one lookup over int8 or uint8 bytes, with a 256-entry table
//! per channel built (exactly) from the function and the quantization parameters.

use super::{Activation, Arity, Dtype, Io, Slices};
use crate::kernels::quantized::{self as kernel, Lookup, QuantElement, Quantization, Table};
use crate::ops::prelu::ChannelRuns;
use crate::parallel::for_each_chunk;

/// What a quantized call computes on the dequantized value x = (q − zp)·scale.
#[derive(Clone, Debug)]
pub enum Function {
    /// max(0, x) + α·min(0, x): relu is α = 0; PReLU has one α per channel.
    LeakyRelu { alpha: Vec<f64> },
    /// log(1 + e^(βx))/β.
    Softplus { beta: f64 },
}

/// `out = table[c][q]`, with the tables built for the call's dtype.
pub struct Forward {
    tables: Vec<Table>,
    runs: ChannelRuns,
}

impl Forward {
    /// The op for q of `dtype` (int8 or uint8); `runs` says which elements each channel
    /// (each α) covers.
    pub fn new(dtype: Dtype, function: &Function, p: &Quantization, runs: ChannelRuns) -> Forward {
        // the tables are float arithmetic on the calling thread: in the IEEE default, not the
        // caller's flush-to-zero or rounding mode (a subnormal scale would read as 0)
        let _env = crate::fpenv::Standard::enter();
        let tables = match dtype {
            Dtype::I8 => tables::<i8>(function, p),
            _ => tables::<u8>(function, p),
        };
        Forward { tables, runs }
    }
}

fn tables<T: QuantElement>(function: &Function, p: &Quantization) -> Vec<Table> {
    match function {
        Function::LeakyRelu { alpha } => alpha
            .iter()
            .map(|&a| kernel::leaky_relu_table::<T>(p, a))
            .collect(),
        Function::Softplus { beta } => vec![kernel::softplus_table::<T>(p, *beta)],
    }
}

impl Activation for Forward {
    const ARITY: Arity = Arity::Unary;
    const KEEPS_INTS: bool = true;
    const X_NAME: &'static str = "q";
    const ACCEPTS: &'static str = "int8 or uint8";
    fn run(&self, io: Slices<'_>) {
        match io {
            Slices::I8(io) => self.lookup(as_bytes(io)),
            Slices::U8(io) => self.lookup(io),
            _ => debug_assert!(
                false,
                "the binding lets only int8 and uint8 reach quantized ops"
            ),
        }
    }
}

impl Forward {
    fn lookup(&self, io: Io<'_, u8>) {
        let inner = self.runs.for_order(io.order);
        let work = Lookup {
            x: io.inputs[0],
            tables: &self.tables,
            inner,
        };
        for_each_chunk(io.out, &work);
    }
}

/// int8 buffers as their bytes (the tables are indexed by the byte).
fn as_bytes(io: Io<'_, i8>) -> Io<'_, u8> {
    fn bytes(s: &[i8]) -> &[u8] {
        // SAFETY: i8 and u8 have the same size, alignment and validity (every bit pattern).
        unsafe { std::slice::from_raw_parts(s.as_ptr().cast(), s.len()) }
    }
    fn bytes_mut(s: &mut [i8]) -> &mut [u8] {
        // SAFETY: as in `bytes`, and the borrow is moved, not shared.
        unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr().cast(), s.len()) }
    }
    Io {
        inputs: io.inputs.map(|x| x.map(bytes)),
        out: bytes_mut(io.out),
        alpha: bytes(io.alpha),
        alpha_grad: bytes_mut(io.alpha_grad),
        order: io.order,
    }
}
