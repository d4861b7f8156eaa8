//! x86-64: the AVX2 and AVX-512 trampolines, the F16C intrinsics, the bfloat16 leaky and PReLU
//! kernels, and the byte table lookups (AVX-512 VBMI, AVX2).

pub mod avx2;
pub mod avx512;
pub mod bf16;
pub mod byte_lookup;
pub mod f16c;
