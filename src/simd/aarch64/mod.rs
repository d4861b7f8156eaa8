//! aarch64: NEON intrinsics the compiler does not produce by itself (the byte table lookup).

pub mod byte_lookup;
