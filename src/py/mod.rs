//! The Python binding: one generic call (conversion, dtype policy, checks, `out=`, layouts and
//! overlap, errors) that every function goes through. No arithmetic lives here.

mod args;
mod array;
mod call;
pub mod functions;
pub mod quantized;
