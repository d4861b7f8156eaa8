//! Each activation described once: what it computes on each element type, and with which kernel.
//!
//! An op is a small struct holding its checked parameters (`relu::Forward`,
//! `leaky_relu::Backward { alpha }`, …) and implementing [`Activation`]: given the planned,
//! contiguous buffers of one element type ([`Slices`]), it runs its kernel. The Python binding
//! (`crate::py`) converts arguments, applies the dtype policy, checks and plans layouts for every
//! op alike; nothing here knows about Python.

pub mod leaky_relu;
pub mod prelu;
pub mod quantized;
pub mod relu;
pub mod softplus;

use crate::kernels::elementwise::{Binary, BinaryOp, Unary, UnaryOp};
use crate::parallel::for_each_chunk;
use half::{bf16, f16};

/// An element type an array can hold, as the kernels see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    F16,
    /// bfloat16, as `ml_dtypes.bfloat16` (NumPy has no type of its own for it).
    BF16,
    F32,
    F64,
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
    Bool,
}

impl Dtype {
    /// NumPy's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F16 => "float16",
            Dtype::BF16 => "bfloat16",
            Dtype::F32 => "float32",
            Dtype::F64 => "float64",
            Dtype::I8 => "int8",
            Dtype::I16 => "int16",
            Dtype::I32 => "int32",
            Dtype::I64 => "int64",
            Dtype::U8 => "uint8",
            Dtype::U16 => "uint16",
            Dtype::U32 => "uint32",
            Dtype::U64 => "uint64",
            Dtype::Bool => "bool",
        }
    }

    /// Whether it is a floating-point type.
    pub fn is_float(self) -> bool {
        matches!(self, Dtype::F16 | Dtype::BF16 | Dtype::F32 | Dtype::F64)
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Dtype::I8 | Dtype::U8 | Dtype::Bool => 1,
            Dtype::F16 | Dtype::BF16 | Dtype::I16 | Dtype::U16 => 2,
            Dtype::F32 | Dtype::I32 | Dtype::U32 => 4,
            Dtype::F64 | Dtype::I64 | Dtype::U64 => 8,
        }
    }

    /// The magnitude from which a real parameter rounds (to nearest) to ±∞ in this float type:
    /// the largest finite value plus half an ULP of it (exact in f64; f64's own is +∞).
    pub fn overflow_threshold(self) -> f64 {
        match self {
            Dtype::F16 => 65504.0 + 16.0,
            // (2 − 2⁻⁷)·2¹²⁷ + 2¹¹⁹
            Dtype::BF16 => 2f64.powi(128) - 2f64.powi(119),
            Dtype::F32 => f32::MAX as f64 + 2f64.powi(103),
            _ => f64::INFINITY,
        }
    }
}

/// Memory order of the planned buffers: which flat index is which element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    C,
    F,
}

/// The contiguous buffers of one call, all in one memory order: up to two inputs (`None`: that
/// input is `out` itself, so the op runs in place), the output, and for PReLU its α vector and
/// (backward) the α-gradient it writes (both empty for other ops).
pub struct Io<'a, T> {
    pub inputs: [Option<&'a [T]>; 2],
    pub out: &'a mut [T],
    pub alpha: &'a [T],
    pub alpha_grad: &'a mut [T],
    pub order: Order,
}

/// [`Io`] for the element type of the call.
pub enum Slices<'a> {
    F16(Io<'a, f16>),
    BF16(Io<'a, bf16>),
    F32(Io<'a, f32>),
    F64(Io<'a, f64>),
    I8(Io<'a, i8>),
    I16(Io<'a, i16>),
    I32(Io<'a, i32>),
    I64(Io<'a, i64>),
    /// bool arrays too (relu is the identity on them), read as bytes: a NumPy bool may hold any
    /// byte, which a Rust `bool` may not.
    U8(Io<'a, u8>),
    U16(Io<'a, u16>),
    U32(Io<'a, u32>),
    U64(Io<'a, u64>),
}

/// Whether an op reads one array (x) or two (grad, x).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arity {
    Unary,
    Binary,
}

/// One activation or gradient, with its parameters checked.
pub trait Activation: Sync {
    const ARITY: Arity;
    /// Integer and bool inputs keep their dtype (relu) instead of being computed in float64.
    const KEEPS_INTS: bool = false;
    /// The name of the (first) array argument in messages.
    const X_NAME: &'static str = "x";
    /// The dtypes the array arguments may have, as the messages that refuse others say it.
    const ACCEPTS: &'static str = "a float, integer or bool";
    /// Run on the planned buffers. Only dtypes the policy allows reach here: floats, and the
    /// integers and bool where [`Activation::KEEPS_INTS`].
    fn run(&self, io: Slices<'_>);
}

/// A dtype the op's policy never lets through: nothing is computed.
pub(crate) fn not_a_float() {
    debug_assert!(
        false,
        "the dtype policy let an integer dtype reach a float-only op"
    );
}

/// `out = op(x)` over the whole call, split across threads by [`crate::parallel`].
pub(crate) fn map_unary<T: Copy + Send + Sync, O: UnaryOp<T>>(op: O, io: Io<'_, T>) {
    for_each_chunk(
        io.out,
        &Unary {
            op,
            x: io.inputs[0],
        },
    );
}

/// `out = op(x)` for a float-only op with one kernel for every float dtype.
pub(crate) fn map_unary_floats<O>(op: O, io: Slices<'_>)
where
    O: UnaryOp<f16> + UnaryOp<bf16> + UnaryOp<f32> + UnaryOp<f64>,
{
    match io {
        Slices::F16(io) => map_unary(op, io),
        Slices::BF16(io) => map_unary(op, io),
        Slices::F32(io) => map_unary(op, io),
        Slices::F64(io) => map_unary(op, io),
        _ => not_a_float(),
    }
}

/// `out = op(grad, x)` for a float-only op with one kernel for every float dtype.
pub(crate) fn map_binary_floats<O>(op: O, io: Slices<'_>)
where
    O: BinaryOp<f16> + BinaryOp<bf16> + BinaryOp<f32> + BinaryOp<f64>,
{
    match io {
        Slices::F16(io) => map_binary(op, io),
        Slices::BF16(io) => map_binary(op, io),
        Slices::F32(io) => map_binary(op, io),
        Slices::F64(io) => map_binary(op, io),
        _ => not_a_float(),
    }
}

/// `out = op(grad, x)` over the whole call, split across threads.
pub(crate) fn map_binary<T: Copy + Send + Sync, O: BinaryOp<T>>(op: O, io: Io<'_, T>) {
    let [grad, x] = io.inputs;
    for_each_chunk(io.out, &Binary { op, grad, x });
}
