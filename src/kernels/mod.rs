//! Pure-Rust kernels on slices. Nothing here knows about Python.
//!
//! Every kernel takes its inputs as `Option<&[T]>`: `Some(slice)` reads that slice, `None` reads the
//! output itself (the caller passed `out=x` or `out=grad`, so the operation runs in place). Each output
//! element depends only on the inputs at the same index, read before the output is written, so the
//! in-place forms give exactly the same results as the out-of-place ones.

pub mod elementwise;
pub mod leaky_relu;
pub mod prelu;
pub mod quantized;
pub mod relu;
pub mod softplus;
