//! The thread pool, the serial threshold and the chunking: every decision about how work is split
//! is made here.
//!
//! * relu_rs owns one rayon pool (never rayon's global one), sized by `set_num_threads`, else the
//!   `RELU_RS_NUM_THREADS` environment variable, else the CPUs available to the process.
//! * The pool remembers the process id that built it. After `fork()` the child has none of the
//!   parent's threads, so the first call in the child builds a fresh pool (the stale one is leaked,
//!   never dropped, since dropping it would signal threads that do not exist).
//! * Work is cut into pieces whose bounds depend only on the array's shape, never on the thread
//!   count, so every result — the per-channel α-gradient sums included — is bit-identical for any
//!   number of threads.

use crate::element::Float;
use crate::kernels::elementwise::ChunkOp;
use crate::kernels::prelu::prelu_grad_piece;
use crate::math::CompensatedSum;
use crate::simd::{self, Task};
use rayon::prelude::*;
use rayon::{ThreadPool, ThreadPoolBuilder};
use std::sync::{Arc, Mutex, MutexGuard};

/// Work (elements × the op's `COST`, relu = 1) below which a call runs on the calling thread.
///
/// Measured on a 2-core AMD EPYC (AVX2), float32, 1 vs 2 threads (µs):
///
/// | elements | relu 1T | relu 2T | relu_grad 1T | relu_grad 2T | softplus 1T | softplus 2T |
/// |---:|---:|---:|---:|---:|---:|---:|
/// | 65 536 | 11.8 | 29.2 | | | 466 | 297 |
/// | 262 144 | 33.7 | 34.4 | 55.7 | 47.4 | 1948 | 1116 |
/// | 524 288 | 73.4 | 68.7 | 122.0 | 85.0 | | |
/// | 1 048 576 | 170.7 | 107.6 | 272.0 | 146.5 | | |
///
/// Waking the pool costs ~15–20 µs, so threads pay from about 40 µs of serial work: ~300K
/// elements of relu (0.13 ns each), ~6K of softplus (~7 ns each). Hence a threshold on work.
pub const PARALLEL_WORK: usize = 300_000;

/// Work per parallel chunk: ~256K relu-elements (1 MiB of f32, ~35 µs), i.e. 5K softplus
/// elements; enough chunks to balance 16 threads from a few million relu elements, few enough
/// that scheduling (~1 µs per chunk) is noise.
pub const CHUNK_WORK: usize = 1 << 18;

/// No chunk is smaller than this, whatever the op's cost.
const MIN_CHUNK: usize = 4096;

/// The GIL is released around kernels on at least this many elements.
pub const GIL_RELEASE_THRESHOLD: usize = 1 << 14;

struct PoolState {
    pid: u32,
    threads: usize,
    pool: Option<Arc<ThreadPool>>,
}

static STATE: Mutex<PoolState> = Mutex::new(PoolState {
    pid: 0,
    threads: 0,
    pool: None,
});

fn state() -> MutexGuard<'static, PoolState> {
    // A panic while the lock was held cannot leave the state inconsistent (every field is written
    // whole), so a poisoned lock is simply taken over.
    STATE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The default thread count: `RELU_RS_NUM_THREADS` if it is an integer ≥ 1, else the CPUs available
/// to this process (affinity mask and cgroup quota included).
pub fn default_num_threads() -> usize {
    std::env::var("RELU_RS_NUM_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n >= 1)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Set the thread count (`None` restores the default). The caller has checked `n >= 1`.
/// Calls already running keep the pool they started with.
pub fn set_num_threads(n: Option<usize>) {
    let mut s = state();
    current_threads(&mut s); // leaks, never drops, a pool inherited across fork()
    s.threads = n.unwrap_or_else(default_num_threads).max(1);
    if let Some(old) = s.pool.take() {
        drop(old); // a pool of this process: its threads exit once running calls finish
    }
}

/// The thread count calls will use.
pub fn num_threads() -> usize {
    current_threads(&mut state())
}

/// The state brought up to date for this process: a pool built before `fork()` is leaked (its
/// threads do not exist here), and an unset thread count takes its default. Returns the count.
fn current_threads(s: &mut PoolState) -> usize {
    let pid = std::process::id();
    if s.pid != pid {
        if let Some(stale) = s.pool.take() {
            std::mem::forget(stale);
        }
        s.pid = pid;
    }
    if s.threads == 0 {
        s.threads = default_num_threads();
    }
    s.threads
}

/// The pool for a parallel call, or `None` when calls should run serially (one thread, or the
/// pool could not be built).
fn pool() -> Option<Arc<ThreadPool>> {
    let mut s = state();
    if current_threads(&mut s) <= 1 {
        return None;
    }
    if s.pool.is_none() {
        s.pool = ThreadPoolBuilder::new()
            .num_threads(s.threads)
            .thread_name(|i| format!("relu_rs-{i}"))
            .start_handler(|_| crate::fpenv::set_standard()) // not the creator's FTZ/DAZ/rounding
            .build()
            .ok()
            .map(Arc::new);
    }
    s.pool.clone()
}

/// One chunk of elementwise work, as a [`Task`] for the SIMD dispatch.
struct ChunkTask<'a, T, O> {
    op: &'a O,
    start: usize,
    out: &'a mut [T],
}

impl<T, O: ChunkOp<T>> Task for ChunkTask<'_, T, O> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        self.op.apply(self.start, self.out);
    }
}

/// Apply `op` over `out`: on the calling thread below [`PARALLEL_WORK`], else in chunks of
/// [`CHUNK_WORK`] work on relu_rs's pool; each chunk compiled for the active SIMD path.
///
/// Parallel iterators run only inside relu_rs's own pool: never on rayon's global pool, which
/// ignores `set_num_threads` and does not survive `fork()`.
pub fn for_each_chunk<T: Send, O: ChunkOp<T>>(out: &mut [T], op: &O) {
    let isa = simd::isa();
    let pool = if out.len().saturating_mul(O::COST) < PARALLEL_WORK {
        None
    } else {
        pool()
    };
    let chunk = (CHUNK_WORK / O::COST).max(MIN_CHUNK);
    match pool {
        None => simd::dispatch(isa, ChunkTask { op, start: 0, out }),
        Some(pool) => pool.install(|| {
            out.par_chunks_mut(chunk)
                .enumerate()
                .for_each(|(k, piece)| {
                    simd::dispatch(
                        isa,
                        ChunkTask {
                            op,
                            start: k * chunk,
                            out: piece,
                        },
                    )
                });
        }),
    }
}

/// PReLU backward's time per element relative to relu (measured: ~3 ns per f32 element on one
/// thread, NCHW 32×64×56×56 and (4096, 1024)).
const PRELU_GRAD_COST: usize = 20;

/// Target width (elements) of a column block of a PReLU backward tile.
const TILE_COLS: usize = 512;
/// Target elements per PReLU backward tile.
const TILE_ELEMS: usize = 1 << 15;

/// A column block of the `(outer, channels·inner)` matrix: columns `col0..col1` of every row,
/// touching channels `ch0..ch0 + nch`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct ColumnBlock {
    col0: usize,
    col1: usize,
    ch0: usize,
    nch: usize,
}

/// Column blocks for `channels × inner` columns. With `inner ≥ TILE_COLS` each channel's run is cut
/// into blocks of `TILE_COLS`; otherwise blocks hold whole channels, about `TILE_COLS` columns each.
fn column_blocks(channels: usize, inner: usize) -> Vec<ColumnBlock> {
    let mut blocks = Vec::new();
    if inner >= TILE_COLS {
        for ch in 0..channels {
            let base = ch * inner;
            for c0 in (0..inner).step_by(TILE_COLS) {
                let c1 = (c0 + TILE_COLS).min(inner);
                blocks.push(ColumnBlock {
                    col0: base + c0,
                    col1: base + c1,
                    ch0: ch,
                    nch: 1,
                });
            }
        }
    } else {
        let per = (TILE_COLS / inner).max(1);
        for ch0 in (0..channels).step_by(per) {
            let nch = per.min(channels - ch0);
            blocks.push(ColumnBlock {
                col0: ch0 * inner,
                col1: (ch0 + nch) * inner,
                ch0,
                nch,
            });
        }
    }
    blocks
}

/// A raw pointer that may cross threads; each tile writes only its own disjoint rows × columns.
#[derive(Clone, Copy)]
struct SharedMut<T>(*mut T);
// SAFETY: used only to hand each tile its disjoint region of one `&mut [T]` (see `prelu_grad`).
unsafe impl<T: Send> Send for SharedMut<T> {}
unsafe impl<T: Send> Sync for SharedMut<T> {}

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
}

impl<T: Float> Task for TileTask<'_, T> {
    type Output = Vec<CompensatedSum>;
    #[inline(always)]
    fn run(self) -> Vec<CompensatedSum> {
        let b = self.block;
        let mut acc = vec![CompensatedSum::default(); b.nch];
        for row in self.rows {
            let lo = row * self.row_len + b.col0;
            let hi = row * self.row_len + b.col1;
            debug_assert!(hi <= self.len);
            // SAFETY: `lo..hi` lies inside `out` (hi ≤ outer·row_len = len), and tiles partition
            // the matrix, so no two tiles (or rows) create overlapping slices. `grad`/`x` are
            // `Some` only when they do not alias `out`.
            let seg = unsafe { std::slice::from_raw_parts_mut(self.out.0.add(lo), hi - lo) };
            let g = self.grad.map(|g| &g[lo..hi]);
            let x = self.x.map(|x| &x[lo..hi]);
            prelu_grad_piece(g, x, seg, self.alpha, self.inner, lo, &mut acc, b.ch0);
        }
        acc
    }
}

/// The fused, tiled PReLU backward: `out = leaky_relu_grad(grad, x; alpha[c])` and the returned
/// per-channel sums Σ grad·min(0, x), one pass.
///
/// The flat array is the matrix `(outer rows) × (channels·inner columns)`. It is cut into tiles of
/// `rows_per_tile` rows × one column block (both from the shape alone). Each tile accumulates the
/// α-gradient of its channels in compensated f64 sums, row by row. Tiles run in parallel; their
/// partial sums are then merged per channel in tile order (row block, then column block), a fixed
/// order, so the result does not depend on the thread count.
///
/// `grad`/`x` are `None` when they are `out` itself.
pub fn prelu_grad<T: Float>(
    grad: Option<&[T]>,
    x: Option<&[T]>,
    out: &mut [T],
    alpha: &[T],
    inner: usize,
) -> Vec<f64> {
    let channels = alpha.len();
    let row_len = channels * inner;
    if out.is_empty() || row_len == 0 {
        return vec![0.0; channels];
    }
    let outer = out.len() / row_len;
    let blocks = column_blocks(channels, inner);
    let width = blocks[0].col1 - blocks[0].col0;
    let rows_per_tile = (TILE_ELEMS / width).clamp(1, outer);
    let row_blocks = outer.div_ceil(rows_per_tile);
    let n_tiles = row_blocks * blocks.len();
    let len = out.len();
    let out_ptr = SharedMut(out.as_mut_ptr());
    let isa = simd::isa();

    let run_tile = |t: usize| -> Vec<CompensatedSum> {
        let rb = t / blocks.len();
        let task = TileTask {
            grad,
            x,
            out: out_ptr,
            len,
            alpha,
            inner,
            row_len,
            rows: rb * rows_per_tile..((rb + 1) * rows_per_tile).min(outer),
            block: blocks[t % blocks.len()],
        };
        simd::dispatch(isa, task)
    };
    let pool = if len.saturating_mul(PRELU_GRAD_COST) < PARALLEL_WORK {
        None
    } else {
        pool()
    };
    let partials: Vec<Vec<CompensatedSum>> = match pool {
        None => (0..n_tiles).map(run_tile).collect(),
        Some(pool) => pool.install(|| (0..n_tiles).into_par_iter().map(run_tile).collect()),
    };
    let mut sums = vec![CompensatedSum::default(); channels];
    for (t, acc) in partials.iter().enumerate() {
        let b = blocks[t % blocks.len()];
        for (s, a) in sums[b.ch0..b.ch0 + b.nch].iter_mut().zip(acc) {
            s.merge(a);
        }
    }
    sums.iter().map(CompensatedSum::value).collect()
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
            let blocks = column_blocks(channels, inner);
            let mut next = 0;
            for b in &blocks {
                assert_eq!(b.col0, next);
                assert!(b.col1 > b.col0);
                assert_eq!(b.ch0, b.col0 / inner);
                assert_eq!(b.ch0 + b.nch - 1, (b.col1 - 1) / inner);
                next = b.col1;
            }
            assert_eq!(next, channels * inner);
        }
    }

    struct Index;
    impl ChunkOp<usize> for Index {
        fn apply(&self, start: usize, out: &mut [usize]) {
            for (i, e) in out.iter_mut().enumerate() {
                *e = start + i;
            }
        }
    }

    #[test]
    fn for_each_chunk_covers_everything_in_parallel() {
        let mut v = vec![0usize; PARALLEL_WORK * 3 + 17];
        for_each_chunk(&mut v, &Index);
        assert!(v.iter().enumerate().all(|(i, &e)| i == e));
    }
}
