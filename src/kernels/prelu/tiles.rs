//! The PReLU backward's tiling: the flat array as a matrix of rows × columns, cut into tiles from
//! the shape alone; each tile's α-gradient partial sums merged in tile order, so the sums are the
//! same for every thread count.

use super::backward::{fold_plain, prelu_grad_piece, PreluGradElement};
use crate::element::Float;
use crate::math::CompensatedSum;
use crate::parallel::{map_tiles, SharedMut};
use crate::simd::{self, Task};

/// PReLU backward's time per element relative to relu (~1.3 ns per f32 element on one thread).
const PRELU_GRAD_COST: usize = 20;

/// Target width (elements) of a column block of a PReLU backward tile: wide, so rows are long
/// contiguous runs that hardware prefetchers follow (measured in docs/performance.md).
const TILE_COLS: usize = 1 << 16;
/// At most this many channels per column block: the block's per-channel sums (f64, and for
/// channel-innermost layouts a plain f64 array every row adds into) stay in L1/L2.
const TILE_CHANNELS: usize = 4096;
/// Elements per PReLU backward tile: `len / TILE_MIN_COUNT` within these bounds, from the shape
/// alone (so the sums' order does not depend on the thread count). Big tiles stream best.
const TILE_ELEMS_MIN: usize = 1 << 13;
const TILE_ELEMS_MAX: usize = 1 << 18;
/// Each channel's share of a PReLU backward tile is at least this many elements (rows × inner):
/// a tile's per-channel work (its partial sums) must be repaid by its elements.
const TILE_MIN_PER_CHANNEL: usize = 128;
/// Channel-innermost rows shorter than this are summed several rows at a time: each run of a
/// row pays a loop set-up that 16 channels do not repay.
const MIN_ROW_GROUP: usize = 64;
const TILE_MIN_COUNT: usize = 16;

/// A column block of the `(outer, channels·inner)` matrix: columns `col0..col1` of every row,
/// touching channels `ch0..ch0 + nch`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct ColumnBlock {
    col0: usize,
    col1: usize,
    ch0: usize,
    nch: usize,
}

/// The column blocks of `channels × inner` columns, by index (no list: a layer may have millions
/// of channels). With `inner ≥ TILE_COLS` each channel's run is cut into blocks of `TILE_COLS`;
/// otherwise blocks hold whole channels, about `TILE_COLS` columns each. Blocks of one channel, or
/// of consecutive channels, have consecutive indices.
#[derive(Clone, Copy, Debug)]
struct ColumnBlocks {
    channels: usize,
    inner: usize,
    /// Blocks per channel (`inner ≥ TILE_COLS`), or channels per block.
    per: usize,
    split_channels: bool,
}

impl ColumnBlocks {
    fn new(channels: usize, inner: usize) -> ColumnBlocks {
        let split_channels = inner >= TILE_COLS;
        let per = if split_channels {
            inner.div_ceil(TILE_COLS)
        } else {
            (TILE_COLS / inner).clamp(1, TILE_CHANNELS)
        };
        ColumnBlocks {
            channels,
            inner,
            per,
            split_channels,
        }
    }

    fn len(&self) -> usize {
        if self.split_channels {
            self.channels * self.per
        } else {
            self.channels.div_ceil(self.per)
        }
    }

    fn get(&self, b: usize) -> ColumnBlock {
        if self.split_channels {
            let (ch, piece) = (b / self.per, b % self.per);
            let c0 = piece * TILE_COLS;
            let c1 = (c0 + TILE_COLS).min(self.inner);
            let base = ch * self.inner;
            ColumnBlock {
                col0: base + c0,
                col1: base + c1,
                ch0: ch,
                nch: 1,
            }
        } else {
            let ch0 = b * self.per;
            let nch = self.per.min(self.channels - ch0);
            ColumnBlock {
                col0: ch0 * self.inner,
                col1: (ch0 + nch) * self.inner,
                ch0,
                nch,
            }
        }
    }
}

/// One tile of the PReLU backward, as a [`Task`]: rows `rows` × one column block.
struct TileTask<'a, T> {
    grad: Option<&'a [T]>,
    x: Option<&'a [T]>,
    out: SharedMut<T>,
    len: usize,
    alpha: &'a [T],
    inner: usize,
    row_len: usize,
    rows: std::ops::Range<usize>,
    block: ColumnBlock,
    /// Channel-innermost rows of few channels are summed `rows_per_group` rows at a time, as if
    /// the layer had `rows_per_group`·C channels (α repeated in `alpha_rows`); 1 otherwise.
    rows_per_group: usize,
    alpha_rows: &'a [T],
}

impl<T: PreluGradElement> Task for TileTask<'_, T> {
    type Output = Vec<CompensatedSum>;
    #[inline(always)]
    fn run(self) -> Vec<CompensatedSum> {
        let b = self.block;
        let mut acc = vec![CompensatedSum::default(); b.nch];
        let mut plain = vec![0.0; b.nch];
        // Row by row; but channel-innermost with every channel in the block, the tile's rows are
        // one contiguous piece and one call takes them all (a call per row, each zeroing its
        // staging buffers, cost more than a row of 64 channels). The terms reach `plain` in
        // increasing position either way, so the sums are the same.
        let whole_rows = self.inner == 1 && b.col1 - b.col0 == self.row_len;
        let rows_per_piece = if whole_rows {
            self.rows.len().max(1)
        } else {
            1
        };
        for first in self.rows.clone().step_by(rows_per_piece) {
            let last = (first + rows_per_piece).min(self.rows.end) - 1;
            let lo = first * self.row_len + b.col0;
            let hi = last * self.row_len + b.col1;
            debug_assert!(hi <= self.len);
            // SAFETY: `lo..hi` lies inside `out` (hi ≤ outer·row_len = len), and tiles partition
            // the matrix, so no two tiles (or pieces) create overlapping slices. `grad`/`x` are
            // `Some` only when they do not alias `out`.
            let seg = unsafe { std::slice::from_raw_parts_mut(self.out.0.add(lo), hi - lo) };
            let g = self.grad.map(|g| &g[lo..hi]);
            let x = self.x.map(|x| &x[lo..hi]);
            if whole_rows && self.rows_per_group > 1 {
                // row r's channel c is virtual channel (r mod k)·C + c; its sums are folded
                // into channel c in order of r mod k
                let (channels, k) = (b.nch, self.rows_per_group);
                // f16/f32 add to plain sums only; f64 to compensated ones only
                let mut acc_rows =
                    vec![CompensatedSum::default(); if T::IS_F64 { channels * k } else { 0 }];
                let mut plain_rows = vec![0.0; if T::IS_F64 { 0 } else { channels * k }];
                prelu_grad_piece(
                    g,
                    x,
                    seg,
                    self.alpha_rows,
                    1,
                    lo,
                    &mut acc_rows,
                    &mut plain_rows,
                    0,
                );
                for j in 0..k {
                    let rows = j * channels..(j + 1) * channels;
                    if T::IS_F64 {
                        for (a, ar) in acc.iter_mut().zip(&acc_rows[rows]) {
                            a.merge(ar);
                        }
                    } else {
                        for (p, pr) in plain.iter_mut().zip(&plain_rows[rows]) {
                            *p += pr;
                        }
                    }
                }
                continue;
            }
            prelu_grad_piece(
                g, x, seg, self.alpha, self.inner, lo, &mut acc, &mut plain, b.ch0,
            );
        }
        if self.inner == 1 && !T::IS_F64 {
            fold_plain(&mut acc, &plain);
        }
        acc
    }
}

/// Tiles run (in parallel) in batches of this many, their partial sums merged before the next
/// batch: the partial sums in memory stay bounded whatever the channel count.
const TILES_PER_BATCH: usize = 64;

/// The fused, tiled PReLU backward: `out = leaky_relu_grad(grad, x; alpha[c])`, and in
/// `alpha_grad` the per-channel sums Σ grad·min(0, x) (a NaN sum canonical), one pass.
///
/// The flat array is the matrix `(outer rows) × (channels·inner columns)`. It is cut into tiles of
/// `rows_per_tile` rows × one column block (both from the shape alone). Each tile accumulates the
/// α-gradient of its channels in compensated f64 sums, row by row. Tiles are numbered column block
/// by column block, row blocks in order within one; they run in parallel in batches, and their
/// partial sums are merged per channel in tile order, a fixed order, so the result does not depend
/// on the thread count. A channel's sums are written out once its last tile is merged, so the
/// temporaries are a batch of tiles' partial sums, not one per channel.
///
/// `grad`/`x` are `None` when they are `out` itself.
pub fn prelu_grad<T: PreluGradElement>(
    grad: Option<&[T]>,
    x: Option<&[T]>,
    out: &mut [T],
    alpha: &[T],
    inner: usize,
    alpha_grad: &mut [T],
) {
    let channels = alpha.len();
    debug_assert_eq!(alpha_grad.len(), channels);
    let finish = |dst: &mut [T], sums: &[CompensatedSum]| {
        for (d, s) in dst.iter_mut().zip(sums) {
            // which NaN a sum keeps depends on its order: a NaN sum is the canonical one
            *d = T::from_f64(s.value().canonical());
        }
    };
    let row_len = channels * inner;
    if out.is_empty() || row_len == 0 {
        alpha_grad.fill(T::ZERO);
        return;
    }
    let outer = out.len() / row_len;
    let blocks = ColumnBlocks::new(channels, inner);
    let first = blocks.get(0);
    let width = first.col1 - first.col0;
    let tile_elems = (out.len() / TILE_MIN_COUNT).clamp(TILE_ELEMS_MIN, TILE_ELEMS_MAX);
    let min_rows = TILE_MIN_PER_CHANNEL.div_ceil(inner);
    let rows_per_tile = (tile_elems / width).max(min_rows).clamp(1, outer);
    let row_blocks = outer.div_ceil(rows_per_tile);
    let n_tiles = row_blocks * blocks.len();
    let len = out.len();
    let out_ptr = SharedMut(out.as_mut_ptr());
    let isa = simd::isa();
    let rows_per_group = if inner == 1 && channels < MIN_ROW_GROUP {
        MIN_ROW_GROUP.div_ceil(channels)
    } else {
        1
    };
    let alpha_rows = if rows_per_group > 1 {
        alpha.repeat(rows_per_group)
    } else {
        Vec::new()
    };

    let run_tile = |t: usize| -> Vec<CompensatedSum> {
        let rb = t % row_blocks;
        let task = TileTask {
            grad,
            x,
            out: out_ptr,
            len,
            alpha,
            inner,
            row_len,
            rows: rb * rows_per_tile..((rb + 1) * rows_per_tile).min(outer),
            block: blocks.get(t / row_blocks),
            rows_per_group,
            alpha_rows: &alpha_rows,
        };
        simd::dispatch(isa, task)
    };
    if n_tiles == 1 {
        // one tile of every channel: its partial sums are the sums
        return finish(alpha_grad, &run_tile(0));
    }
    // the sums of the channels of the current column block(s), and their first channel
    let mut acc: Vec<CompensatedSum> = Vec::new();
    let mut acc_ch0 = None;
    for batch in (0..n_tiles).step_by(TILES_PER_BATCH) {
        let n = TILES_PER_BATCH.min(n_tiles - batch);
        let work = len.saturating_mul(PRELU_GRAD_COST);
        let partials = map_tiles(n, work, |i| run_tile(batch + i));
        for (i, part) in partials.iter().enumerate() {
            let b = blocks.get((batch + i) / row_blocks);
            if acc_ch0 != Some(b.ch0) {
                if let Some(ch0) = acc_ch0 {
                    finish(&mut alpha_grad[ch0..ch0 + acc.len()], &acc);
                }
                acc.clear();
                acc.resize(b.nch, CompensatedSum::default());
                acc_ch0 = Some(b.ch0);
            }
            for (s, a) in acc.iter_mut().zip(part) {
                s.merge(a);
            }
        }
    }
    if let Some(ch0) = acc_ch0 {
        finish(&mut alpha_grad[ch0..ch0 + acc.len()], &acc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_blocks_cover_every_column_once() {
        for (channels, inner) in [
            (1, 1),
            (3, 1),
            (1000, 1),
            (7, 3),
            (64, 3136),
            (2, 512),
            (5, 513),
        ] {
            let blocks = ColumnBlocks::new(channels, inner);
            let mut next = 0;
            for b in (0..blocks.len()).map(|k| blocks.get(k)) {
                assert_eq!(b.col0, next);
                assert!(b.col1 > b.col0);
                assert_eq!(b.ch0, b.col0 / inner);
                assert_eq!(b.ch0 + b.nch - 1, (b.col1 - 1) / inner);
                next = b.col1;
            }
            assert_eq!(next, channels * inner);
        }
    }
}
