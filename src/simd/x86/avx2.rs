//! AVX2 + FMA: 256-bit vectors (8 × f32, 4 × f64), fused multiply-add, F16C conversions.

/// Run `task` with AVX2, FMA and F16C enabled, so inlined kernels are vectorized for them.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C (every AVX2 CPU has F16C).
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn run<K: Task>(task: K) -> K::Output {
    task.run()
}

use crate::simd::Task;
