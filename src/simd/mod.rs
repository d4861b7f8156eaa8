//! The SIMD dispatch point: which instruction set the kernels run with, chosen once at runtime.
//!
//! The kernels are generic Rust written so that the compiler vectorizes them (branch-free loops,
//! `mul_add` for FMA). [`dispatch`] runs a kernel inside a function compiled for the chosen ISA
//! (one file per ISA under `x86/`; the F16C intrinsics in `x86/f16c.rs`), so one x86-64 wheel uses AVX-512 or
//! AVX2+FMA where the CPU has them and the baseline (SSE2, "scalar") elsewhere; on aarch64, NEON
//! is the baseline itself. Code written with intrinsics (the float16 and bfloat16 one-pass
//! kernels in `x86/f16c.rs` and `x86/bf16.rs`, the byte table lookups in `x86/byte_lookup.rs`
//! and `aarch64/byte_lookup.rs`) takes a token (`F16c`, `Vbmi`, `Avx2`, `Neon`) that only a
//! `detect()` checking the path in use can make.
//!
//! `RELU_RS_SIMD=scalar|avx2|avx512|neon` forces a path, but never one the CPU lacks (an
//! unavailable or unknown name falls back to the best available path), so every path can be
//! tested on one machine. Results stay within each kernel's stated bound on every path; the
//! tests compare each path with the scalar one.

#[cfg(target_arch = "aarch64")]
pub mod aarch64;
#[cfg(target_arch = "x86_64")]
pub mod x86;

use std::sync::OnceLock;

/// An instruction set the kernels can be compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    Scalar,
    Neon,
    Avx2,
    Avx512,
}

impl Isa {
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Neon => "neon",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }

    fn from_name(name: &str) -> Option<Isa> {
        match name.trim().to_ascii_lowercase().as_str() {
            "scalar" => Some(Isa::Scalar),
            "neon" => Some(Isa::Neon),
            "avx2" => Some(Isa::Avx2),
            "avx512" => Some(Isa::Avx512),
            _ => None,
        }
    }

    /// Whether this CPU can run the path.
    pub fn is_available(self) -> bool {
        match self {
            Isa::Scalar => true,
            Isa::Neon => cfg!(target_arch = "aarch64"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => {
                is_x86_feature_detected!("avx2")
                    && is_x86_feature_detected!("fma")
                    && is_x86_feature_detected!("f16c")
            }
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => {
                // every feature x86_avx512::run enables
                is_x86_feature_detected!("avx512f")
                    && is_x86_feature_detected!("avx512bw")
                    && is_x86_feature_detected!("avx512dq")
                    && is_x86_feature_detected!("avx512vl")
                    && is_x86_feature_detected!("avx2")
                    && is_x86_feature_detected!("fma")
                    && is_x86_feature_detected!("f16c")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// Every path this CPU can run, best first.
    pub fn available() -> Vec<Isa> {
        [Isa::Avx512, Isa::Avx2, Isa::Neon, Isa::Scalar]
            .into_iter()
            .filter(|isa| isa.is_available())
            .collect()
    }
}

/// The path in use: the best available one, or the one `RELU_RS_SIMD` names if available.
pub fn isa() -> Isa {
    static CHOSEN: OnceLock<Isa> = OnceLock::new();
    *CHOSEN.get_or_init(|| {
        let best = Isa::available()[0];
        std::env::var("RELU_RS_SIMD")
            .ok()
            .and_then(|name| Isa::from_name(&name))
            .filter(|isa| isa.is_available())
            .unwrap_or(best)
    })
}

/// Proof that the kernels may use F16C, AVX2 and FMA: the path in use is AVX2 or AVX-512, whose
/// availability check covers all three. Only [`F16c::detect`] makes one, so every kernel that
/// takes it (the float16 and bfloat16 one-pass kernels) can run its intrinsics without checking again.
#[derive(Clone, Copy, Debug)]
pub struct F16c {
    _proof: (),
}

impl F16c {
    /// The token, where the path in use has F16C.
    pub fn detect() -> Option<F16c> {
        matches!(isa(), Isa::Avx2 | Isa::Avx512).then_some(F16c { _proof: () })
    }

    /// Whether the path in use is AVX-512 (F, BW, DQ, VL, with F16C and FMA: what
    /// [`Isa::Avx512`]'s check covers), so a float16 kernel may use 512-bit vectors and masks.
    #[cfg(target_arch = "x86_64")]
    pub fn avx512(self) -> bool {
        isa() == Isa::Avx512
    }
}

/// Proof that the kernels may use AVX-512 VBMI (with F and BW): the path in use is AVX-512 and
/// the CPU has VBMI too. Only [`Vbmi::detect`] makes one; the quantized byte lookup takes it.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy, Debug)]
pub struct Vbmi {
    _proof: (),
}

#[cfg(target_arch = "x86_64")]
impl Vbmi {
    /// The token, where the path in use is AVX-512 and the CPU has VBMI.
    #[inline]
    pub fn detect() -> Option<Vbmi> {
        static HAS_VBMI: OnceLock<bool> = OnceLock::new();
        let vbmi = *HAS_VBMI.get_or_init(|| is_x86_feature_detected!("avx512vbmi"));
        (vbmi && isa() == Isa::Avx512).then_some(Vbmi { _proof: () })
    }
}

/// Proof that the kernels may use AVX2: the path in use is AVX2 or AVX-512, whose availability
/// checks cover it. Only [`Avx2::detect`] makes one; the quantized byte lookup takes it where
/// there is no [`Vbmi`].
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy, Debug)]
pub struct Avx2 {
    _proof: (),
}

#[cfg(target_arch = "x86_64")]
impl Avx2 {
    /// The token, where the path in use is AVX2 or AVX-512.
    #[inline]
    pub fn detect() -> Option<Avx2> {
        matches!(isa(), Isa::Avx2 | Isa::Avx512).then_some(Avx2 { _proof: () })
    }
}

/// Proof that the path in use is NEON (the aarch64 baseline, so always available there; the
/// token makes `RELU_RS_SIMD=scalar` keep the portable code). Only [`Neon::detect`] makes one;
/// the quantized byte lookup takes it.
#[cfg(target_arch = "aarch64")]
#[derive(Clone, Copy, Debug)]
pub struct Neon {
    _proof: (),
}

#[cfg(target_arch = "aarch64")]
impl Neon {
    /// The token, where the path in use is NEON.
    #[inline]
    pub fn detect() -> Option<Neon> {
        (isa() == Isa::Neon).then_some(Neon { _proof: () })
    }
}

/// The name of the path the kernels use, for `info()["simd"]`.
pub fn active_path() -> &'static str {
    isa().name()
}

/// A unit of kernel work. `run` must be `#[inline(always)]` (and everything it calls in its hot
/// loop too): then the whole loop is compiled inside the ISA's `#[target_feature]` trampoline and
/// vectorized for it. Closures cannot promise that, which is why this is a trait.
pub trait Task {
    type Output;
    fn run(self) -> Self::Output;
}

/// Run `task` compiled for `isa`. An `isa` this CPU lacks runs the portable code instead.
#[inline(always)]
pub fn dispatch<K: Task>(isa: Isa, task: K) -> K::Output {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 if Isa::Avx512.is_available() => {
            // SAFETY: the CPU has every feature the trampoline is compiled with.
            unsafe { x86::avx512::run(task) }
        }
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 if Isa::Avx2.is_available() => {
            // SAFETY: as above.
            unsafe { x86::avx2::run(task) }
        }
        _ => task.run(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalar_is_always_available_and_listed_last() {
        let all = Isa::available();
        assert_eq!(*all.last().unwrap(), Isa::Scalar);
        assert!(all.contains(&isa()));
    }

    #[test]
    fn names_round_trip() {
        for isa in [Isa::Scalar, Isa::Neon, Isa::Avx2, Isa::Avx512] {
            assert_eq!(Isa::from_name(isa.name()), Some(isa));
        }
        assert_eq!(Isa::from_name("sse9"), None);
    }
}
