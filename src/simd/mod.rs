//! The SIMD dispatch point.
//!
//! The foundation kernels are portable Rust loops that the compiler vectorizes for the wheel's
//! baseline ISA (SSE2 on x86-64, NEON on aarch64); the per-ISA paths with runtime dispatch come
//! with the speed work. `active_path` names what the kernels actually run, so `info()` never
//! claims more than is there.

/// The code path the kernels use in this build on this CPU.
pub fn active_path() -> &'static str {
    "scalar"
}
