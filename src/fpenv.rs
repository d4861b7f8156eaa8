//! The floating-point environment kernels run in: always the IEEE default, whatever the caller set.
//!
//! Another library in the same process (a `-ffast-math` object, some BLAS or audio code) may have
//! set flush-to-zero / denormals-are-zero, a rounding mode other than round-to-nearest-even, or
//! unmasked exceptions in the calling thread. Each would change results: subnormal inputs read
//! as zero (relu(1e-40) = 0), subnormal tails of softplus flushed, signs of zero lost, other
//! roundings; and an unmasked invalid-operation exception turns an ordinary NaN input into
//! SIGFPE. So:
//!
//! * [`Standard::enter`] puts the default in place on the calling thread for the guard's lifetime
//!   and restores the caller's control bits on drop (one `stmxcsr` when nothing needs changing);
//! * relu_rs's pool threads call [`set_standard`] once when they start (they inherit the
//!   environment of whichever thread created them).
//!
//! On x86-64 this is MXCSR; on aarch64, FPCR. Elsewhere it is a no-op.

#[cfg(target_arch = "x86_64")]
mod imp {
    /// Round to nearest, every exception masked, no FTZ (bit 15) or DAZ (bit 6).
    pub const STANDARD: u64 = 0x1F80;
    /// The sticky status flags: they record what happened and are not part of the mode.
    pub const STATUS: u64 = 0x3F;

    #[inline(always)]
    pub fn read() -> u64 {
        let mut csr: u32 = 0;
        // SAFETY: stmxcsr stores the 32-bit MXCSR into `csr`; SSE is baseline on x86-64.
        unsafe {
            std::arch::asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack, preserves_flags));
        }
        u64::from(csr)
    }

    #[inline(always)]
    pub fn write(value: u64) {
        let csr = value as u32;
        // SAFETY: ldmxcsr loads `csr`, a valid MXCSR value (reserved bits are never set: values
        // are either STANDARD with status flags, or what `read` returned).
        unsafe {
            std::arch::asm!(
                "ldmxcsr [{}]",
                in(reg) &csr,
                options(nostack, preserves_flags, readonly)
            );
        }
    }
}

#[cfg(target_arch = "aarch64")]
mod imp {
    /// FPCR with round-to-nearest, no traps, FZ/FZ16/DN/AHP clear.
    pub const STANDARD: u64 = 0;
    /// The FPCR bits that are not mode bits relu_rs cares about (kept as the caller set them):
    /// everything but the trap enables (8–12, 15), FZ16 (19), RMode (22–23), FZ (24), DN (25) and
    /// AHP (26).
    pub const STATUS: u64 = !((0x1F << 8) | (1 << 15) | (1 << 19) | (0x1F << 22));

    #[inline(always)]
    pub fn read() -> u64 {
        let v: u64;
        // SAFETY: reading FPCR has no side effects.
        unsafe {
            std::arch::asm!("mrs {}, fpcr", out(reg) v, options(nomem, nostack, preserves_flags));
        }
        v
    }

    #[inline(always)]
    pub fn write(value: u64) {
        // SAFETY: `value` is either what `read` returned or it with mode bits cleared.
        unsafe {
            std::arch::asm!("msr fpcr, {}", in(reg) value, options(nomem, nostack, preserves_flags));
        }
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
mod imp {
    pub const STANDARD: u64 = 0;
    pub const STATUS: u64 = 0;
    #[inline(always)]
    pub fn read() -> u64 {
        0
    }
    #[inline(always)]
    pub fn write(_: u64) {}
}

/// While alive, the calling thread runs in the default floating-point environment. Dropping it
/// restores the caller's modes (keeping any status flags raised meanwhile).
#[must_use = "the environment is restored when the guard is dropped"]
pub struct Standard {
    saved: Option<u64>,
}

impl Standard {
    #[inline]
    pub fn enter() -> Standard {
        let current = imp::read();
        if current & !imp::STATUS == imp::STANDARD {
            return Standard { saved: None };
        }
        imp::write(imp::STANDARD | (current & imp::STATUS));
        Standard {
            saved: Some(current),
        }
    }
}

impl Drop for Standard {
    #[inline]
    fn drop(&mut self) {
        if let Some(saved) = self.saved {
            imp::write((saved & !imp::STATUS) | (imp::read() & imp::STATUS));
        }
    }
}

/// Put the default environment in place on this thread for good (pool threads, at start).
pub fn set_standard() {
    std::mem::forget(Standard::enter());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hint::black_box;

    /// The smallest positive f32 subnormal times one: zero under FTZ/DAZ, itself otherwise.
    fn subnormal_survives() -> bool {
        black_box(f32::from_bits(1)) * black_box(1.0f32) != 0.0
    }

    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    #[test]
    fn guard_undoes_flush_to_zero_then_restores_it() {
        let original = imp::read();
        #[cfg(target_arch = "x86_64")]
        let flush = 0x8040 | 0x6000; // FTZ | DAZ | round toward zero
        #[cfg(target_arch = "aarch64")]
        let flush = (1 << 24) | (3 << 22); // FZ | round toward zero
        imp::write(original | flush);
        if subnormal_survives() {
            // The register took the bits but the arithmetic ignores them: an emulator
            // (valgrind does not model FTZ/DAZ). Nothing to test here.
            imp::write(original);
            eprintln!("flush-to-zero has no effect in this environment; skipped");
            return;
        }
        {
            let _env = Standard::enter();
            assert!(subnormal_survives());
            assert_eq!(imp::read() & !imp::STATUS, imp::STANDARD);
        }
        assert!(!subnormal_survives());
        assert_eq!(
            imp::read() & !imp::STATUS,
            (original | flush) & !imp::STATUS
        );
        imp::write(original);
        assert!(subnormal_survives());
    }

    #[test]
    fn guard_is_a_no_op_in_the_default_environment() {
        let before = imp::read() & !imp::STATUS;
        drop(Standard::enter());
        assert_eq!(imp::read() & !imp::STATUS, before);
    }
}
