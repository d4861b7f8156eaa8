//! x86-64: the AVX2 and AVX-512 trampolines, and the F16C intrinsics.

pub mod avx2;
pub mod avx512;
pub mod f16c;
