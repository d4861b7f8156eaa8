//! The thread pool, the serial threshold and the chunking: every decision about how work is split
//! is made here.
//!
//! * relu_rs owns one rayon pool (never rayon's global one), sized by `set_num_threads`, else the
//!   `RELU_RS_NUM_THREADS` environment variable, else the CPUs available to the process.
//! * The pool and its lock belong to the process that made them. After `fork()` the child makes
//!   its own on its first large call and never touches the parent's (leaked, never dropped): the
//!   parent's threads do not exist in the child, and a lock one of them held stays held.
//! * After a parallel call its helpers stay ready (spinning, yielding the core to any other
//!   runnable thread) for a bounded time, 500 µs unless set otherwise, before they park: calls
//!   in a loop then get every thread from their first chunk instead of paying a wake-up each.
//! * Work is cut into pieces whose bounds depend only on the array's shape, never on the thread
//!   count, so every result — the per-channel α-gradient sums included — is bit-identical for any
//!   number of threads.

use crate::kernels::elementwise::ChunkOp;
use crate::simd::{self, Task};
use rayon::{ThreadPool, ThreadPoolBuilder};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// Work (elements × the op's `COST`, relu = 1) below which a call runs on the calling thread:
/// a helper wakes ~15–20 µs late, so threads pay from ~30 µs of serial work (measured per op in
/// docs/performance.md).
pub const PARALLEL_WORK: usize = 128 * 1024;

/// Work per parallel chunk: 32K relu-elements (~5 µs); chunks are claimed one at a time, so small
/// ones let the caller and a late-waking helper finish together.
pub const CHUNK_WORK: usize = 1 << 15;

/// No chunk is smaller than this, whatever the op's cost.
const MIN_CHUNK: usize = 4096;

/// The GIL is released around kernels on at least this many elements.
pub const GIL_RELEASE_THRESHOLD: usize = 1 << 14;

/// The thread count calls use (0: not yet decided; the default is computed once, since reading
/// the CPUs available means system calls and cgroup files). An atomic outside any lock, so a
/// child forked while another thread held a lock still reads it.
static THREADS: AtomicUsize = AtomicUsize::new(0);

/// One process's pool. After `fork()` the child makes its own (see [`process_pool`]) and never
/// touches the parent's: a lock another parent thread held at the fork stays held in the child,
/// and the parent's pool threads do not exist there.
struct ProcessPool {
    pid: u32,
    pool: Mutex<PoolSlot>,
}

#[derive(Default)]
struct PoolSlot {
    /// The helpers and the thread count they were built for.
    built: Option<(usize, Arc<Helpers>)>,
    /// A thread count whose pool could not be built: calls run serially until it changes.
    failed: Option<usize>,
}

static PROCESS_POOL: AtomicPtr<ProcessPool> = AtomicPtr::new(std::ptr::null_mut());

/// This process's pool slot, made on first use in each process. The parent's, inherited across
/// `fork()`, is leaked, never locked or dropped.
fn process_pool() -> &'static ProcessPool {
    let pid = std::process::id();
    let current = PROCESS_POOL.load(Ordering::Acquire);
    // SAFETY: a non-null pointer here came from `Box::into_raw` below and is never freed.
    if let Some(p) = unsafe { current.as_ref() } {
        if p.pid == pid {
            return p;
        }
    }
    let fresh = Box::into_raw(Box::new(ProcessPool {
        pid,
        pool: Mutex::new(PoolSlot::default()),
    }));
    match PROCESS_POOL.compare_exchange(current, fresh, Ordering::AcqRel, Ordering::Acquire) {
        // SAFETY: just made, never freed.
        Ok(_) => unsafe { &*fresh },
        // another thread of this process got there first
        // SAFETY: `fresh` was never shared; `other` is a leaked Box as above.
        Err(other) => unsafe {
            drop(Box::from_raw(fresh));
            &*other
        },
    }
}

fn slot() -> MutexGuard<'static, PoolSlot> {
    // A panic while the lock was held cannot leave the slot inconsistent (every field is written
    // whole), so a poisoned lock is simply taken over.
    lock(&process_pool().pool)
}

/// The CPUs available to this process (affinity mask and cgroup quota included).
fn available_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The largest thread count relu_rs accepts: 8 × the CPUs available. More threads than that only
/// add wake-ups (and hundreds of them can fail to start under a memory limit).
pub fn max_threads() -> usize {
    8 * available_cpus()
}

/// The default thread count: `RELU_RS_NUM_THREADS` if it is an integer ≥ 1 (capped at
/// [`max_threads`]), else the CPUs available to this process.
pub fn default_num_threads() -> usize {
    std::env::var("RELU_RS_NUM_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n >= 1)
        .map_or_else(available_cpus, |n| n.min(max_threads()))
}

/// Set the thread count (`None` restores the default, read again now). The caller has checked
/// `1 <= n <= max_threads()`. Calls already running keep the pool they started with.
pub fn set_num_threads(n: Option<usize>) {
    THREADS.store(n.unwrap_or_else(default_num_threads), Ordering::Relaxed);
}

/// The thread count calls will use.
pub fn num_threads() -> usize {
    match THREADS.load(Ordering::Relaxed) {
        0 => {
            let n = default_num_threads();
            THREADS.store(n, Ordering::Relaxed);
            n
        }
        n => n,
    }
}

/// How long helpers stay ready after a call, in µs, when neither `set_spin_wait` nor
/// `RELU_RS_SPIN_WAIT_US` says otherwise: long enough to bridge the gap between calls in a loop
/// (NumPy work between them included), short enough that an idle process stops using CPU within
/// about a millisecond.
pub const DEFAULT_SPIN_WAIT_US: u64 = 500;
/// The longest wait `set_spin_wait` and the environment variable accept (0.1 s).
pub const MAX_SPIN_WAIT_US: u64 = 100_000;

/// The spin wait calls use, in µs (`u64::MAX`: not yet read from the environment).
static SPIN_WAIT_US: AtomicU64 = AtomicU64::new(u64::MAX);

/// `RELU_RS_SPIN_WAIT_US` if it is an integer (capped at [`MAX_SPIN_WAIT_US`]; 0 turns waiting
/// off), else [`DEFAULT_SPIN_WAIT_US`].
pub fn default_spin_wait_us() -> u64 {
    std::env::var("RELU_RS_SPIN_WAIT_US")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(DEFAULT_SPIN_WAIT_US, |us| us.min(MAX_SPIN_WAIT_US))
}

/// Set the spin wait in µs (`None` restores the default, read again now). The caller has checked
/// `us <= MAX_SPIN_WAIT_US`.
pub fn set_spin_wait_us(us: Option<u64>) {
    SPIN_WAIT_US.store(us.unwrap_or_else(default_spin_wait_us), Ordering::Relaxed);
}

/// The spin wait helpers use, in µs.
pub fn spin_wait_us() -> u64 {
    match SPIN_WAIT_US.load(Ordering::Relaxed) {
        u64::MAX => {
            let us = default_spin_wait_us();
            SPIN_WAIT_US.store(us, Ordering::Relaxed);
            us
        }
        us => us,
    }
}

/// Set when a pool could not be built; taken (and cleared) by [`take_warning`]. `HAS_WARNING`
/// lets every call check for it with one load instead of a lock.
static WARNING: Mutex<Option<String>> = Mutex::new(None);
static HAS_WARNING: AtomicBool = AtomicBool::new(false);

/// The message of a pool that could not be built since the last call, once.
pub fn take_warning() -> Option<String> {
    if !HAS_WARNING.load(Ordering::Relaxed) || !HAS_WARNING.swap(false, Ordering::Acquire) {
        return None;
    }
    WARNING.lock().ok().and_then(|mut w| w.take())
}

/// A pool's threads and what its ready helpers watch for: the call they may join.
struct Helpers {
    pool: ThreadPool,
    /// The latest parallel call (cleared when it returns), and how many calls have been posted.
    posted: Mutex<Option<Arc<Job>>>,
    posts: AtomicU64,
    /// Helpers awake: woken for a call (or about to be), running one, or spinning ready for the
    /// next. The others are parked in rayon and need a spawn to wake.
    active: AtomicUsize,
}

impl Helpers {
    fn new(pool: ThreadPool) -> Arc<Helpers> {
        Arc::new(Helpers {
            pool,
            posted: Mutex::new(None),
            posts: AtomicU64::new(0),
            active: AtomicUsize::new(0),
        })
    }
}

/// The helpers for a parallel call (`threads − 1` threads: the caller is the other one), or
/// `None` when calls should run serially (one thread, or the pool could not be built: then not
/// retried until the thread count changes, and said once through [`take_warning`]).
fn helpers() -> Option<Arc<Helpers>> {
    let threads = num_threads();
    if threads <= 1 {
        return None;
    }
    let mut s = slot();
    match &s.built {
        Some((n, helpers)) if *n == threads => return Some(Arc::clone(helpers)),
        _ if s.failed == Some(threads) => return None,
        _ => {}
    }
    s.built = None; // a pool of this process: its threads exit once running calls finish
    match ThreadPoolBuilder::new()
        .num_threads(threads - 1)
        .thread_name(|i| format!("relu_rs-{i}"))
        .start_handler(|_| crate::fpenv::set_standard()) // not the creator's FTZ/DAZ/rounding
        .build()
    {
        Ok(pool) => {
            let helpers = Helpers::new(pool);
            s.built = Some((threads, Arc::clone(&helpers)));
            s.failed = None;
            Some(helpers)
        }
        Err(e) => {
            s.failed = Some(threads);
            if let Ok(mut w) = WARNING.lock() {
                *w = Some(format!(
                    "relu_rs could not start {} threads ({e}); it runs on the calling thread \
                     until set_num_threads changes the count",
                    threads - 1
                ));
                HAS_WARNING.store(true, Ordering::Release);
            }
            None
        }
    }
}

/// How far a parallel call has got: the next chunk to claim, and how many are finished.
struct Progress {
    next: AtomicUsize,
    done: AtomicUsize,
}

/// `work` with its lifetime erased, so that helper jobs (which must be `'static`) can hold it.
#[derive(Clone, Copy)]
struct ErasedWork(*const (dyn Fn(usize) + Sync));
// SAFETY: the pointee is `Sync`; see `run_parallel` for why it outlives every use.
unsafe impl Send for ErasedWork {}
unsafe impl Sync for ErasedWork {}

/// One parallel call as its helpers see it: `n` chunks of `work`.
struct Job {
    progress: Progress,
    n: usize,
    work: ErasedWork,
}

impl Job {
    /// Claim chunks and run them until none is left. A chunk counts as done when it returns or
    /// unwinds.
    fn claim_and_run(&self) {
        loop {
            let k = self.progress.next.fetch_add(1, Ordering::Relaxed);
            if k >= self.n {
                return;
            }
            let _done = ChunkDone(&self.progress.done);
            // SAFETY: the claim succeeded, so the caller of `run_parallel` is still waiting
            // (`WaitForClaimed`), and `work` is alive.
            unsafe { (*self.work.0)(k) };
        }
    }
}

/// Counts a chunk as done when dropped: after it returns, or while it unwinds.
struct ChunkDone<'a>(&'a AtomicUsize);

impl Drop for ChunkDone<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Release);
    }
}

/// Held by `run_parallel` for the whole call: on the way out, normally or unwinding from a chunk
/// that panicked on the calling thread, it closes the counter (no chunk is claimed after), waits
/// until every chunk claimed so far is done, so no helper still uses `work`, and withdraws the
/// call from the ready helpers.
struct WaitForClaimed<'a> {
    helpers: &'a Helpers,
    job: &'a Arc<Job>,
}

impl Drop for WaitForClaimed<'_> {
    fn drop(&mut self) {
        let progress = &self.job.progress;
        let claimed = progress
            .next
            .swap(usize::MAX / 2, Ordering::Relaxed)
            .min(self.job.n);
        let mut spins = 0u32;
        while progress.done.load(Ordering::Acquire) < claimed {
            if spins < 1000 {
                std::hint::spin_loop();
                spins += 1;
            } else {
                std::thread::yield_now();
            }
        }
        let mut posted = lock(&self.helpers.posted);
        if posted.as_ref().is_some_and(|p| Arc::ptr_eq(p, self.job)) {
            *posted = None;
        }
    }
}

/// A lock whose data is always whole (written in one assignment): poisoning is ignored.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A helper's life in the pool: run its call's chunks, then stay ready for the spin wait,
/// joining each newly posted call at once (the wait starts again after each), then return to
/// rayon, which parks the thread. While ready it spins on one atomic and yields its core to any
/// other runnable thread every few µs.
fn helper(helpers: &Helpers, first: &Job) {
    let mut seen = helpers.posts.load(Ordering::SeqCst);
    let join_posted = |seen: &mut u64| -> Option<Arc<Job>> {
        let posts = helpers.posts.load(Ordering::SeqCst);
        if posts == *seen {
            return None;
        }
        *seen = posts;
        lock(&helpers.posted).clone()
    };
    first.claim_and_run();
    // the wait is read afresh after each call, so a change applies from the next one
    let deadline = || Instant::now() + Duration::from_micros(spin_wait_us());
    let mut until = deadline();
    let mut spins = 0u32;
    loop {
        if let Some(job) = join_posted(&mut seen) {
            job.claim_and_run();
            until = deadline();
            continue;
        }
        spins = spins.wrapping_add(1);
        if !spins.is_multiple_of(64) {
            std::hint::spin_loop();
            continue;
        }
        if Instant::now() >= until {
            break;
        }
        std::thread::yield_now();
    }
    helpers.active.fetch_sub(1, Ordering::SeqCst);
    // A call posted after the last look counted this helper as awake and did not wake another
    // for it (`run_parallel`): join it now. (Both sides use SeqCst, so either that call saw
    // `active` drop or this load sees its post.)
    if let Some(job) = join_posted(&mut seen) {
        job.claim_and_run();
    }
}

/// Run `work(k)` for every `k` in `0..n`: the calling thread starts on the chunks at once, and up
/// to the pool's threads join in: the ready ones (still spinning after an earlier call) at once,
/// the others as they wake. Chunks are claimed one at a time from a shared counter, so the split
/// adapts to whichever threads are actually running (and any result that depends on the order
/// of chunks must be merged by the caller, in chunk order).
///
/// The caller never sleeps and never waits for a helper that claimed nothing (`pool.install`
/// would put two thread wake-ups on every call's critical path: docs/performance.md).
fn run_parallel<F: Fn(usize) + Sync>(helpers: &Arc<Helpers>, n: usize, work: &F) {
    let local: &(dyn Fn(usize) + Sync) = work;
    // SAFETY (lifetime erasure): helpers call `work` only after claiming a chunk `k < n`, and this
    // function returns (or unwinds) only once every claimed chunk is done (`WaitForClaimed`), so
    // no call outlives `work`. A helper that comes later (woken late, or still holding the posted
    // job) finds nothing to claim.
    let erased = ErasedWork(unsafe {
        std::mem::transmute::<*const (dyn Fn(usize) + Sync + '_), *const (dyn Fn(usize) + Sync)>(
            local,
        )
    });
    let job = Arc::new(Job {
        progress: Progress {
            next: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
        },
        n,
        work: erased,
    });
    let _wait = WaitForClaimed { helpers, job: &job };
    let wanted = helpers.pool.current_num_threads().min(n.saturating_sub(1));
    if wanted > 0 {
        *lock(&helpers.posted) = Some(Arc::clone(&job));
        helpers.posts.fetch_add(1, Ordering::SeqCst);
        // the awake helpers join by themselves; wake parked ones for the rest, each counted
        // awake before its spawn so that concurrent calls do not wake more than the pool has
        let mut awake = helpers.active.load(Ordering::SeqCst);
        while awake < wanted {
            match helpers.active.compare_exchange_weak(
                awake,
                awake + 1,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => {
                    let (h, j) = (Arc::clone(helpers), Arc::clone(&job));
                    helpers.pool.spawn(move || helper(&h, &j));
                    awake += 1;
                }
                Err(now) => awake = now,
            }
        }
    }
    job.claim_and_run();
    // Every chunk is claimed; `_wait` waits for those still running on helpers.
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
/// [`CHUNK_WORK`] work shared by the caller and relu_rs's pool (never rayon's global pool, which
/// ignores `set_num_threads` and does not survive `fork()`); each chunk compiled for the active
/// SIMD path.
pub fn for_each_chunk<T: Send, O: ChunkOp<T>>(out: &mut [T], op: &O) {
    let isa = simd::isa();
    let pool = if out.len().saturating_mul(O::COST) < PARALLEL_WORK {
        None
    } else {
        helpers()
    };
    let chunk = (CHUNK_WORK / O::COST).max(MIN_CHUNK);
    match pool {
        None => simd::dispatch(isa, ChunkTask { op, start: 0, out }),
        Some(pool) => {
            let len = out.len();
            let base = SharedMut(out.as_mut_ptr());
            run_parallel(&pool, len.div_ceil(chunk), &|k| {
                let start = k * chunk;
                let end = (start + chunk).min(len);
                // SAFETY: chunk k is `start..end` of `out`, disjoint from every other chunk, and
                // each k runs once.
                let piece =
                    unsafe { std::slice::from_raw_parts_mut(base.get().add(start), end - start) };
                simd::dispatch(
                    isa,
                    ChunkTask {
                        op,
                        start,
                        out: piece,
                    },
                );
            });
        }
    }
}

/// `f(t)` for every tile `t` in `0..n`, in tile order in the result whichever thread ran it: on
/// the calling thread when `work` (elements × cost, relu = 1) is below [`PARALLEL_WORK`], else
/// shared with relu_rs's pool. A caller that merges the results in order gets the same answer
/// for every thread count.
pub fn map_tiles<R: Send + Sync, F: Fn(usize) -> R + Sync>(n: usize, work: usize, f: F) -> Vec<R> {
    let pool = if work < PARALLEL_WORK {
        None
    } else {
        helpers()
    };
    match pool {
        None => (0..n).map(f).collect(),
        Some(pool) => {
            let slots: Vec<OnceLock<R>> = (0..n).map(|_| OnceLock::new()).collect();
            run_parallel(&pool, n, &|t| {
                let _ = slots[t].set(f(t));
            });
            slots
                .into_iter()
                .map(|s| s.into_inner().expect("run_parallel runs every tile"))
                .collect()
        }
    }
}

/// A raw pointer that may cross threads; each chunk or tile writes only its own disjoint region.
pub(crate) struct SharedMut<T>(pub(crate) *mut T);
impl<T> Clone for SharedMut<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for SharedMut<T> {}
// SAFETY: used only to hand each chunk/tile its disjoint region of one `&mut [T]`.
unsafe impl<T: Send> Send for SharedMut<T> {}
unsafe impl<T: Send> Sync for SharedMut<T> {}

impl<T> SharedMut<T> {
    /// The pointer (a method, so closures capture the whole `Sync` wrapper, not the raw field).
    pub(crate) fn get(self) -> *mut T {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Index;
    impl ChunkOp<usize> for Index {
        fn apply(&self, start: usize, out: &mut [usize]) {
            for (i, e) in out.iter_mut().enumerate() {
                *e = start + i;
            }
        }
    }

    #[test]
    fn run_parallel_runs_every_chunk_exactly_once() {
        let pool = Helpers::new(ThreadPoolBuilder::new().num_threads(3).build().unwrap());
        for n in [0, 1, 2, 5, 1000] {
            let counts: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
            run_parallel(&pool, n, &|k| {
                counts[k].fetch_add(1, Ordering::Relaxed);
            });
            assert!(
                counts.iter().all(|c| c.load(Ordering::Relaxed) == 1),
                "n = {n}"
            );
        }
    }

    /// A chunk that panics on the calling thread unwinds out of `run_parallel` only after every
    /// chunk a helper claimed has finished: no helper runs `work` (which borrows the caller's
    /// stack) after the caller's frame is gone.
    #[test]
    fn run_parallel_waits_for_helpers_when_a_chunk_panics() {
        let pool = Helpers::new(ThreadPoolBuilder::new().num_threads(3).build().unwrap());
        let caller = std::thread::current().id();
        let running = std::sync::Arc::new(AtomicUsize::new(0));
        for _ in 0..20 {
            let on_stack = [0u8; 64];
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                run_parallel(&pool, 64, &|k| {
                    if std::thread::current().id() == caller {
                        panic!("chunk {k} fails on the caller");
                    }
                    running.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(2));
                    assert_eq!(on_stack[k % 64], 0);
                    running.fetch_sub(1, Ordering::SeqCst);
                });
            }));
            assert!(result.is_err());
            assert_eq!(
                running.load(Ordering::SeqCst),
                0,
                "a helper outlived the call"
            );
        }
    }

    #[test]
    fn for_each_chunk_covers_everything_in_parallel() {
        let mut v = vec![0usize; PARALLEL_WORK * 3 + 17];
        for_each_chunk(&mut v, &Index);
        assert!(v.iter().enumerate().all(|(i, &e)| i == e));
    }
}
