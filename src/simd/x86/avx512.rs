//! AVX-512 (F, BW, DQ, VL) + FMA: 512-bit vectors (16 × f32, 8 × f64), masked tails,
//! f64 <-> i64 conversions.

/// Run `task` with AVX-512 enabled, so inlined kernels are vectorized for it.
///
/// # Safety
/// The CPU must support AVX-512 F, BW, DQ and VL, FMA and F16C.
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c")]
pub unsafe fn run<K: Task>(task: K) -> K::Output {
    task.run()
}

use crate::simd::Task;
