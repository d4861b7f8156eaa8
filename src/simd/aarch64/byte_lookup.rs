//! The quantized kernels' 256-entry byte table lookup, `out[i] = table[x[i]]`, exact, with NEON.

use crate::kernels::quantized::{by_blocks, Table};
use crate::simd::Neon;
use std::arch::aarch64::*;

/// `out[i] = table[x[i]]`; `x = None`: `out` is also the input.
///
/// 16 bytes per step, four 64-byte quarters of the table: `tbl` (`vqtbl4q_u8`) looks x up in
/// the first (an index ≥ 64 gives 0), then `tbx` (`vqtbx4q_u8`, which keeps the destination byte
/// where the index is ≥ 64) in quarter j with the index x − 64·j (wrapping: in range exactly for
/// x in quarter j).
#[inline]
pub fn neon(_cpu: Neon, table: &Table, x: Option<&[u8]>, out: &mut [u8]) {
    // SAFETY: the token proves the path in use is NEON.
    unsafe { neon_blocks(table, x, out) }
}

/// # Safety
/// The CPU has NEON (every aarch64 CPU does).
#[target_feature(enable = "neon")]
unsafe fn neon_blocks(table: &Table, x: Option<&[u8]>, out: &mut [u8]) {
    let quarters = table.as_chunks::<64>().0;
    // SAFETY: 64-byte loads of each quarter.
    let [q0, q1, q2, q3] = [0, 1, 2, 3].map(|j| unsafe { vld1q_u8_x4(quarters[j].as_ptr()) });
    by_blocks(x, out, |block: [u8; 16]| {
        // SAFETY: 16-byte loads and stores of local arrays.
        let v = unsafe { vld1q_u8(block.as_ptr()) };
        let mut y = vqtbl4q_u8(q0, v);
        y = vqtbx4q_u8(y, q1, vsubq_u8(v, vdupq_n_u8(64)));
        y = vqtbx4q_u8(y, q2, vsubq_u8(v, vdupq_n_u8(128)));
        y = vqtbx4q_u8(y, q3, vsubq_u8(v, vdupq_n_u8(192)));
        let mut result = [0u8; 16];
        // SAFETY: as above.
        unsafe { vst1q_u8(result.as_mut_ptr(), y) };
        result
    });
}
