//! PReLU backward on one contiguous piece: the gradient and the α-gradient terms in one pass.

use super::{prelu_alpha_grad_term, Runs, BLOCK};
use crate::element::Float;
use crate::kernels::elementwise::stage_copy;
use crate::kernels::leaky_relu::leaky_relu_grad_scalar;
use crate::math::{CompensatedLanes, CompensatedSum};
use half::f16;
use std::mem::MaybeUninit;

/// Fused PReLU backward on a contiguous piece of the flat array starting at flat index `start`:
///
/// * `out[i] = leaky_relu_grad(grad[i], x[i]; alpha[c])` with `c = channel(start + i)`;
/// * `acc[c − ch_base] += prelu_alpha_grad_term(grad[i], x[i])` for every `i`, in compensated f64
///   sums: channel-innermost layouts add in increasing `i`; channel runs go through
///   `prelu_grad_run`'s fixed lanes.
/// * Except: channel-innermost f16/f32 adds its (exact) terms to the plain f64 sums
///   `plain[c − ch_base]` instead, a contiguous array the add loop vectorizes over (the
///   `CompensatedSum` array interleaves sums and compensations, so it was strided stores); the
///   caller folds them into `acc` ([`fold_plain`]) when its rows are done.
///
/// `None` for an input means it is `out` itself (in place); such an input is staged through a
/// stack buffer before `out` is written. The caller guarantees every channel in the piece lies in
/// `ch_base .. ch_base + acc.len()`. The summation order depends only on `start` and the piece's
/// length, so a fixed tiling gives bit-identical sums on any thread count.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub fn prelu_grad_piece<T: PreluGradElement>(
    grad: Option<&[T]>,
    x: Option<&[T]>,
    out: &mut [T],
    alpha: &[T],
    inner: usize,
    start: usize,
    acc: &mut [CompensatedSum],
    plain: &mut [f64],
    ch_base: usize,
) {
    let channels = alpha.len();
    // staging for in-place inputs, written before it is read (no zeroing: it was ~10% of a
    // small call)
    let mut grad_buf = [MaybeUninit::<T>::uninit(); BLOCK];
    let mut x_buf = [MaybeUninit::<T>::uninit(); BLOCK];
    for b0 in (0..out.len()).step_by(BLOCK) {
        let b1 = (b0 + BLOCK).min(out.len());
        let len = b1 - b0;
        let o = &mut out[b0..b1];
        let g: &[T] = match grad {
            Some(g) => &g[b0..b1],
            None => stage_copy(&mut grad_buf, o),
        };
        let xv: &[T] = match x {
            Some(x) => &x[b0..b1],
            None => stage_copy(&mut x_buf, o),
        };
        for (i, run, ch) in Runs::new(start + b0, len, inner, channels) {
            if inner == 1 {
                // Channel-innermost: element j of the run belongs to channel ch + j. Two simple
                // loops (gradient, then α-gradient terms), each vectorizable.
                // index loops, as in prelu_grad_run
                let (gr, xr) = (&g[i..i + run], &xv[i..i + run]);
                let (or, ar) = (&mut o[i..i + run], &alpha[ch..ch + run]);
                if T::IS_F64 {
                    for k in 0..run {
                        or[k] = leaky_relu_grad_scalar(gr[k], xr[k], ar[k]);
                    }
                    let lanes = &mut acc[ch - ch_base..ch - ch_base + run];
                    for k in 0..run {
                        lanes[k].add(prelu_alpha_grad_term(gr[k], xr[k]));
                    }
                } else {
                    // exact products, one per row of the tile: at most 256K / channels terms
                    let lanes = &mut plain[ch - ch_base..ch - ch_base + run];
                    T::grad_innermost_plain(gr, xr, or, ar, lanes);
                }
            } else {
                prelu_grad_run(
                    &g[i..i + run],
                    &xv[i..i + run],
                    &mut o[i..i + run],
                    alpha[ch],
                    &mut acc[ch - ch_base],
                );
            }
        }
    }
}

/// Fold the plain sums of [`prelu_grad_piece`] into `acc` (each starts at +0.0 and so cannot be
/// −0.0; adding it to an untouched `acc` is exact).
#[inline(always)]
pub fn fold_plain(acc: &mut [CompensatedSum], plain: &[f64]) {
    for (a, &p) in acc.iter_mut().zip(plain) {
        a.add_plain(p);
    }
}

/// Independent accumulators per f64 run: enough to hide the add latency and fill a register.
const LANES: usize = 8;
/// Terms are staged through a buffer this long, so each pass is a simple, vectorizable loop.
const RUN_BLOCK: usize = 64;

/// One channel's run of PReLU backward: `out = leaky_relu_grad(grad, x; alpha)`, and the run's
/// α-gradient terms added to `sum`.
///
/// The terms go through lanes merged into `sum` in lane order, so the order is fixed by the run's
/// length. f16/f32: [`PLAIN_LANES`] plain f64 sums filled by [`PreluGradElement::grad_run_lanes`]
/// (each term is an exact product, and a lane holds at most `BLOCK / PLAIN_LANES` = 16 of them per
/// run piece). f64: [`LANES`] compensated lanes (term `j` to lane `j % LANES` within blocks of
/// [`RUN_BLOCK`]). `out` must not alias `g` or `x`.
#[inline(always)]
pub(super) fn prelu_grad_run<T: PreluGradElement>(
    g: &[T],
    x: &[T],
    out: &mut [T],
    alpha: T,
    sum: &mut CompensatedSum,
) {
    if !T::IS_F64 {
        let mut lanes = [0.0f64; PLAIN_LANES];
        T::grad_run_lanes(g, x, out, alpha, &mut lanes);
        for p in lanes {
            sum.add(p);
        }
        return;
    }
    let mut plain = [0.0f64; LANES];
    let mut compensated = CompensatedLanes::<LANES>::default();
    let mut terms = [0.0f64; RUN_BLOCK];
    let n = out.len();
    let (g, x) = (&g[..n], &x[..n]);
    // index loops over blocks: with chunked zips, the iterator constructors were left as calls
    // (3 per block, and their results went through the stack)
    for s in (0..n).step_by(RUN_BLOCK) {
        let m = (n - s).min(RUN_BLOCK);
        let (o, g, x) = (&mut out[s..s + m], &g[s..s + m], &x[s..s + m]);
        for k in 0..m {
            o[k] = leaky_relu_grad_scalar(g[k], x[k], alpha);
        }
        for k in 0..m {
            terms[k] = prelu_alpha_grad_term(g[k], x[k]);
        }
        terms[m..].fill(0.0);
        for c in (0..RUN_BLOCK).step_by(LANES) {
            if T::IS_F64 {
                let mut chunk = [0.0; LANES];
                chunk.copy_from_slice(&terms[c..c + LANES]);
                compensated.add(chunk);
            } else {
                for l in 0..LANES {
                    plain[l] += terms[c + l];
                }
            }
        }
    }
    if T::IS_F64 {
        compensated.merge_into(sum);
    } else {
        for p in plain {
            sum.add(p);
        }
    }
}

/// Lanes of [`PreluGradElement::grad_run_lanes`]: four f64 vectors, so the adds of one step do
/// not wait on each other.
pub const PLAIN_LANES: usize = 16;

/// How an element type runs the inner loops of PReLU backward whose α-gradient terms go to plain
/// f64 sums (f16 and f32; f64 keeps compensated sums and uses neither method). The defaults are the
/// generic loops; f16 on an F16C path overrides both with one-pass kernels that give the same bits.
pub trait PreluGradElement: Float {
    /// One channel's run: `out = leaky_relu_grad(g, x; alpha)`, and the term of element `j` added
    /// to `lanes[j % PLAIN_LANES]` (in blocks of [`PLAIN_LANES`]; a last partial block to the first
    /// lanes), while the inputs are in registers. `out` must not alias `g` or `x`.
    #[inline(always)]
    fn grad_run_lanes(
        g: &[Self],
        x: &[Self],
        out: &mut [Self],
        alpha: Self,
        lanes: &mut [f64; PLAIN_LANES],
    ) {
        grad_run_lanes(g, x, out, alpha, lanes);
    }

    /// Channel-innermost: `out[k] = leaky_relu_grad(g[k], x[k]; alpha[k])` and
    /// `plain[k] += term(g[k], x[k])`, all slices of `out`'s length; `out` must not alias `g` or
    /// `x`.
    #[inline(always)]
    fn grad_innermost_plain(
        g: &[Self],
        x: &[Self],
        out: &mut [Self],
        alpha: &[Self],
        plain: &mut [f64],
    ) {
        grad_innermost_plain(g, x, out, alpha, plain);
    }
}

impl PreluGradElement for f32 {}
impl PreluGradElement for f64 {}

/// bf16 on the AVX2 and AVX-512 paths: one-pass kernels that give the generic loops' bits.
impl PreluGradElement for half::bf16 {
    #[inline(always)]
    fn grad_run_lanes(
        g: &[Self],
        x: &[Self],
        out: &mut [Self],
        alpha: Self,
        lanes: &mut [f64; PLAIN_LANES],
    ) {
        #[cfg(target_arch = "x86_64")]
        if let Some(_proof) = crate::simd::F16c::detect() {
            // SAFETY: the token proves the CPU has AVX2.
            return unsafe {
                crate::simd::x86::bf16::grad_run_lanes_bf16_avx2(g, x, out, alpha, lanes)
            };
        }
        grad_run_lanes(g, x, out, alpha, lanes);
    }

    #[inline(always)]
    fn grad_innermost_plain(
        g: &[Self],
        x: &[Self],
        out: &mut [Self],
        alpha: &[Self],
        plain: &mut [f64],
    ) {
        #[cfg(target_arch = "x86_64")]
        if let Some(_proof) = crate::simd::F16c::detect() {
            // SAFETY: as above.
            return unsafe {
                crate::simd::x86::bf16::grad_innermost_plain_bf16_avx2(g, x, out, alpha, plain)
            };
        }
        grad_innermost_plain(g, x, out, alpha, plain);
    }
}

impl PreluGradElement for f16 {
    #[inline(always)]
    fn grad_run_lanes(
        g: &[f16],
        x: &[f16],
        out: &mut [f16],
        alpha: f16,
        lanes: &mut [f64; PLAIN_LANES],
    ) {
        #[cfg(target_arch = "x86_64")]
        if let Some(_proof) = crate::simd::F16c::detect() {
            // SAFETY: the token proves the CPU has F16C and AVX2.
            return unsafe {
                crate::simd::x86::f16c::prelu::grad_run_lanes_f16c(g, x, out, alpha, lanes)
            };
        }
        grad_run_lanes_passes(g, x, out, alpha, lanes);
    }

    #[inline(always)]
    fn grad_innermost_plain(
        g: &[f16],
        x: &[f16],
        out: &mut [f16],
        alpha: &[f16],
        plain: &mut [f64],
    ) {
        #[cfg(target_arch = "x86_64")]
        if let Some(_proof) = crate::simd::F16c::detect() {
            // SAFETY: as above.
            return unsafe {
                crate::simd::x86::f16c::prelu::grad_innermost_plain_f16c(g, x, out, alpha, plain)
            };
        }
        grad_innermost_plain(g, x, out, alpha, plain);
    }
}

/// The generic [`PreluGradElement::grad_run_lanes`], from element `from` on (the F16C kernel
/// passes its tail here).
#[inline(always)]
pub(crate) fn grad_run_lanes_from<T: Float>(
    g: &[T],
    x: &[T],
    out: &mut [T],
    alpha: T,
    lanes: &mut [f64; PLAIN_LANES],
    from: usize,
) {
    let n = out.len();
    let (g, x) = (&g[..n], &x[..n]);
    let full = n - n % PLAIN_LANES;
    for s in (from..full).step_by(PLAIN_LANES) {
        let o: &mut [T; PLAIN_LANES] = (&mut out[s..s + PLAIN_LANES]).try_into().unwrap();
        let gs: &[T; PLAIN_LANES] = g[s..s + PLAIN_LANES].try_into().unwrap();
        let xs: &[T; PLAIN_LANES] = x[s..s + PLAIN_LANES].try_into().unwrap();
        for l in 0..PLAIN_LANES {
            o[l] = leaky_relu_grad_scalar(gs[l], xs[l], alpha);
            lanes[l] += prelu_alpha_grad_term(gs[l], xs[l]);
        }
    }
    for k in full.max(from)..n {
        out[k] = leaky_relu_grad_scalar(g[k], x[k], alpha);
        lanes[k % PLAIN_LANES] += prelu_alpha_grad_term(g[k], x[k]);
    }
}

/// The generic [`PreluGradElement::grad_run_lanes`].
#[inline(always)]
pub(super) fn grad_run_lanes<T: Float>(
    g: &[T],
    x: &[T],
    out: &mut [T],
    alpha: T,
    lanes: &mut [f64; PLAIN_LANES],
) {
    grad_run_lanes_from(g, x, out, alpha, lanes, 0);
}

/// [`PreluGradElement::grad_run_lanes`] in three simple passes per block of [`RUN_BLOCK`]:
/// gradient, terms, lanes (the same terms to the same lanes in the same order, so the same bits).
/// For f16 without F16C, whose software conversions keep the fused loop from vectorizing.
#[inline(always)]
pub(super) fn grad_run_lanes_passes<T: Float>(
    g: &[T],
    x: &[T],
    out: &mut [T],
    alpha: T,
    lanes: &mut [f64; PLAIN_LANES],
) {
    let n = out.len();
    let (g, x) = (&g[..n], &x[..n]);
    let mut terms = [0.0f64; RUN_BLOCK];
    for s in (0..n).step_by(RUN_BLOCK) {
        let m = (n - s).min(RUN_BLOCK);
        let (o, g, x) = (&mut out[s..s + m], &g[s..s + m], &x[s..s + m]);
        for k in 0..m {
            o[k] = leaky_relu_grad_scalar(g[k], x[k], alpha);
        }
        for k in 0..m {
            terms[k] = prelu_alpha_grad_term(g[k], x[k]);
        }
        // RUN_BLOCK is a multiple of PLAIN_LANES, so element s + k goes to lane k % PLAIN_LANES
        for (c, chunk) in terms[..m].chunks(PLAIN_LANES).enumerate() {
            debug_assert!(c * PLAIN_LANES < RUN_BLOCK);
            for (lane, &t) in lanes.iter_mut().zip(chunk) {
                *lane += t;
            }
        }
    }
}

/// The generic [`PreluGradElement::grad_innermost_plain`].
#[inline(always)]
pub(crate) fn grad_innermost_plain<T: Float>(
    g: &[T],
    x: &[T],
    out: &mut [T],
    alpha: &[T],
    plain: &mut [f64],
) {
    let n = out.len();
    let (g, x, alpha, plain) = (&g[..n], &x[..n], &alpha[..n], &mut plain[..n]);
    // two loops, each a simple vectorizable one
    for k in 0..n {
        out[k] = leaky_relu_grad_scalar(g[k], x[k], alpha[k]);
    }
    for k in 0..n {
        plain[k] += prelu_alpha_grad_term(g[k], x[k]);
    }
}
