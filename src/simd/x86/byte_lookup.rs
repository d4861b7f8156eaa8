//! The quantized kernels' 256-entry byte table lookup, `out[i] = table[x[i]]`, exact:
//! - AVX-512 VBMI: 64 bytes per step, `vpermi2b` on each half of the table and a blend on the
//!   index's top bit;
//! - AVX2: 32 bytes per step, 16 `vpshufb` (one per 16-byte row of the table) combined by
//!   saturated indices, XOR and one blend (see [`avx2`]).

use crate::kernels::quantized::{by_blocks, Table};
use crate::simd::{Avx2, Vbmi};
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

/// `out[i] = table[x[i]]`; `x = None`: `out` is also the input.
///
/// T_h is the table's row of 16 bytes with high nibble h; `vpshufb(row, idx)` gives
/// row[idx & 15], or 0 where idx has bit 7 set. For x < 128, idx_k = x +sat (0x60 − 32k),
/// k = 0..3, has bit 7 clear exactly when k ≥ x >> 5 (never for x ≥ 128: it saturates), so
/// XOR-ing vpshufb(E_k, idx_k) over k, with E_3 = T_6 and E_k = T_2k ^ T_2k+2, telescopes to
/// T_2q[x & 15], q = x >> 5: the even row of x's pair of rows; odd rows O_k, from the same
/// indices, give the odd one. The high half runs the same on x ^ 0x80 with rows 8..15, and bit
/// 4 of x picks even or odd. Per 32 bytes: 16 vpshufb, 6 saturating adds (idx_3 is x), 15 XOR,
/// a shift and a blend; an index per row (pairs of one) would take 48 operations, not 39.
#[inline]
pub fn avx2(_cpu: Avx2, table: &Table, x: Option<&[u8]>, out: &mut [u8]) {
    // SAFETY: the token proves the CPU has AVX2.
    unsafe { avx2_blocks(table, x, out) }
}

/// # Safety
/// The CPU has AVX2.
#[target_feature(enable = "avx2")]
unsafe fn avx2_blocks(table: &Table, x: Option<&[u8]>, out: &mut [u8]) {
    // row h in both 128-bit lanes (vpshufb looks up within each lane)
    let rows = table.as_chunks::<16>().0;
    let row = |h: usize| {
        // SAFETY: a 16-byte unaligned load of row h.
        _mm256_broadcastsi128_si256(unsafe { _mm_loadu_si128(rows[h].as_ptr().cast()) })
    };
    // even[k], odd[k]: E_k, O_k of the doc for pairs k = 0..3 (rows 0..7), 4..7 (rows 8..15)
    let diff = |h: usize| {
        if h % 8 >= 6 {
            row(h) // the last pair of a half
        } else {
            _mm256_xor_si256(row(h), row(h + 2))
        }
    };
    let even: [__m256i; 8] = std::array::from_fn(|k| diff(2 * k));
    let odd: [__m256i; 8] = std::array::from_fn(|k| diff(2 * k + 1));
    // 16 rows and a step's 7 vectors do not fit in 16 ymm registers; held as values, LLVM moves
    // rows between registers at every step (docs/performance.md). Opaque arrays (black_box) keep
    // them in memory, read by a load each where the step uses them.
    let (even, odd) = (std::hint::black_box(&even), std::hint::black_box(&odd));
    let top = _mm256_set1_epi8(i8::MIN);
    by_blocks(x, out, |block: [u8; 32]| {
        // SAFETY: 32-byte unaligned load and store of local arrays.
        let low = unsafe { _mm256_loadu_si256(block.as_ptr().cast()) };
        // x ^ 0x80: the high half's bytes become 0..127, the low half's keep bit 7 through the adds
        let high = _mm256_xor_si256(low, top);
        let (mut e, mut o) = (_mm256_setzero_si256(), _mm256_setzero_si256());
        for k in 0..4 {
            let c = _mm256_set1_epi8(0x60 - 32 * k as i8);
            let (il, ih) = (_mm256_adds_epu8(low, c), _mm256_adds_epu8(high, c));
            e = _mm256_xor_si256(e, _mm256_shuffle_epi8(even[k], il));
            o = _mm256_xor_si256(o, _mm256_shuffle_epi8(odd[k], il));
            e = _mm256_xor_si256(e, _mm256_shuffle_epi8(even[k + 4], ih));
            o = _mm256_xor_si256(o, _mm256_shuffle_epi8(odd[k + 4], ih));
        }
        // bit 4 of x, moved to bit 7 (16-bit shift: no bit crosses into another byte's bit 7)
        let y = _mm256_blendv_epi8(e, o, _mm256_slli_epi16::<3>(low));
        let mut result = [0u8; 32];
        // SAFETY: as above.
        unsafe { _mm256_storeu_si256(result.as_mut_ptr().cast(), y) };
        result
    });
}
