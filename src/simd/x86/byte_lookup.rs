//! The quantized kernels' 256-entry byte table lookup, `out[i] = table[x[i]]`, exact, with AVX-512
//! VBMI: 64 bytes per step, `vpermi2b` on each half of the table and a blend on the index's top
//! bit.

use crate::kernels::quantized::Table;
use crate::simd::Vbmi;
use std::arch::x86_64::*;

/// `out[i] = table[x[i]]`; `x = None`: `out` is also the input.
#[inline]
pub fn vbmi(_cpu: Vbmi, table: &Table, x: Option<&[u8]>, out: &mut [u8]) {
    let src = match x {
        Some(x) => {
            assert_eq!(x.len(), out.len());
            x.as_ptr()
        }
        None => out.as_ptr(),
    };
    // SAFETY: the token proves the CPU has AVX-512 F, BW and VBMI; `src` and `out` hold
    // `out.len()` bytes each and are either disjoint or the same memory (in place: each step
    // loads its 64 bytes before it stores them).
    unsafe { vbmi_raw(table, src, out.as_mut_ptr(), out.len()) }
}

/// # Safety
/// The CPU has AVX-512 F, BW and VBMI; `src` and `dst` address `n` bytes, the same or disjoint.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
unsafe fn vbmi_raw(table: &Table, src: *const u8, dst: *mut u8, n: usize) {
    // SAFETY: the caller's contract; the table is 256 bytes, four unaligned 64-byte loads.
    unsafe {
        let t = table.as_ptr();
        let t0 = _mm512_loadu_si512(t.cast());
        let t1 = _mm512_loadu_si512(t.add(64).cast());
        let t2 = _mm512_loadu_si512(t.add(128).cast());
        let t3 = _mm512_loadu_si512(t.add(192).cast());
        let step = |v: __m512i| {
            let low = _mm512_permutex2var_epi8(t0, v, t1); // bytes 0..128: index bits 0-6
            let high = _mm512_permutex2var_epi8(t2, v, t3); // bytes 128..256
            _mm512_mask_blend_epi8(_mm512_movepi8_mask(v), low, high)
        };
        let mut i = 0;
        while i + 64 <= n {
            let v = _mm512_loadu_si512(src.add(i).cast());
            _mm512_storeu_si512(dst.add(i).cast(), step(v));
            i += 64;
        }
        if i < n {
            let mask: __mmask64 = (1u64 << (n - i)) - 1;
            let v = _mm512_maskz_loadu_epi8(mask, src.add(i).cast());
            _mm512_mask_storeu_epi8(dst.add(i).cast(), mask, step(v));
        }
    }
}
