//! PReLU: leaky ReLU with one α per channel, and its fused backward pass.
//!
//! Layout: a contiguous array viewed in memory order as `(outer, channels, inner)`. Flat element
//! `i` belongs to channel `(i / inner) % channels`. NCHW in C order has `inner = H·W`; NHWC and
//! `(N, C)` have `inner = 1`; a shared α is `channels = 1, inner = len`. The caller derives the three
//! numbers from the shape, the axis and the memory order (C or F).

use super::elementwise::{map_unary, stage_copy, ChunkOp, STAGE};
use super::leaky_relu::{
    leaky_relu, leaky_relu_grad_scalar, leaky_relu_scalar, LeakyRelu, LeakyReluF16c,
};
use super::relu::Relu;
use crate::element::{widen_f16, Float};
use crate::math::{CompensatedLanes, CompensatedSum};
use crate::simd::F16c;
use half::f16;
use std::mem::MaybeUninit;

/// Elements handled per inner block; in-place inputs are staged through a stack buffer this big.
const BLOCK: usize = STAGE;

/// The channel runs of the piece of the flat array at `start..start + len`, in order: `(offset
/// in the piece, length, channel)`. Channel-innermost (`inner = 1`) a run is a row's consecutive
/// channels, `channel` its first. Two divisions for the whole piece, none per run (small rows
/// made them the larger part of the work).
#[derive(Clone, Copy)]
struct Runs {
    at: usize,
    len: usize,
    channel: usize,
    /// Position within the current channel run (`inner > 1`).
    offset: usize,
    inner: usize,
    channels: usize,
}

impl Runs {
    #[inline(always)]
    fn new(start: usize, len: usize, inner: usize, channels: usize) -> Runs {
        Runs {
            at: 0,
            len,
            channel: (start / inner) % channels,
            offset: start % inner,
            inner,
            channels,
        }
    }
}

impl Iterator for Runs {
    type Item = (usize, usize, usize);
    #[inline(always)]
    fn next(&mut self) -> Option<(usize, usize, usize)> {
        if self.at >= self.len {
            return None;
        }
        let left = self.len - self.at;
        let item = if self.inner == 1 {
            let run = left.min(self.channels - self.channel);
            let item = (self.at, run, self.channel);
            self.channel = 0;
            item
        } else {
            let run = left.min(self.inner - self.offset);
            let item = (self.at, run, self.channel);
            self.offset = 0;
            self.channel += 1;
            if self.channel == self.channels {
                self.channel = 0;
            }
            item
        };
        self.at += item.1;
        Some(item)
    }
}

/// The contribution of one element to ∂L/∂α of its channel: `grad·min(0, x)`, in f64.
///
/// * x ≥ 0 (±0 included) contributes exactly 0; x NaN contributes NaN (so the channel's α-gradient
///   is NaN, never a silent 0).
/// * For f16/f32 the product is exact in f64 (≤ 48 significant bits).
#[inline(always)]
pub fn prelu_alpha_grad_term<T: Float>(grad: T, x: T) -> f64 {
    if x >= T::ZERO {
        0.0
    } else {
        grad.to_f64() * x.to_f64()
    }
}

/// Forward PReLU on a contiguous piece of the flat array that starts at flat index `start`:
/// `out[i] = leaky_relu(x[i]; alpha[channel(start + i)])`. `x = None` works in place.
///
/// Same element rules and ≤ 0.5 ULP bound as [`leaky_relu_scalar`].
#[inline(always)]
pub fn prelu<T: Float>(x: Option<&[T]>, out: &mut [T], alpha: &[T], inner: usize, start: usize) {
    for (i, run, ch) in Runs::new(start, out.len(), inner, alpha.len()) {
        if inner == 1 {
            // Channel-innermost: one α per element, taken as a slice of alpha.
            let a = &alpha[ch..ch + run];
            let o = &mut out[i..i + run];
            match x {
                Some(x) => {
                    for ((o, &v), &a) in o.iter_mut().zip(&x[i..i + run]).zip(a) {
                        *o = leaky_relu_scalar(v, a);
                    }
                }
                None => {
                    for (o, &a) in o.iter_mut().zip(a) {
                        *o = leaky_relu_scalar(*o, a);
                    }
                }
            }
        } else {
            let op = LeakyRelu { alpha: alpha[ch] };
            map_unary(&op, x.map(|x| &x[i..i + run]), &mut out[i..i + run]);
        }
    }
}

/// Forward PReLU on f16 arrays where the CPU has F16C, as chunk work: each channel run (inner > 1)
/// goes through the one-pass leaky kernel [`LeakyReluF16c`] (relu where the run's α is 0, the
/// generic kernel where it is ±∞ or NaN);
/// channel-innermost layouts (inner = 1) through a one-pass kernel with one α per element (the
/// same bit selects, α = 0 lanes zeroed). Bit-identical to [`Prelu`] on f16.
///
/// Measured before it (NCHW 32×64×56×56, 2 threads): the generic f16 kernel, whose α·x goes
/// through software f16 conversions, took 2.9 ms, against 1.6 ms for PyTorch.
pub struct PreluF16c<'a> {
    x: Option<&'a [f16]>,
    alpha: &'a [f16],
    inner: usize,
    /// Channel-innermost only (else empty): α as f32, a NaN without its payload (so α·x is the
    /// generic f16 product's quiet NaN), and 0xffff where α is ±0. (x86 only: elsewhere the
    /// generic kernel runs.)
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    wide: Vec<f32>,
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    zero: Vec<u16>,
    cpu: F16c,
}

/// A NaN α as f32 without its payload (sign kept), so that α·x in f32, rounded to f16, is the
/// quiet NaN the generic f16 product gives; any other α as it is.
#[inline]
fn without_nan_payload(alpha: f32) -> f32 {
    if alpha.is_nan() {
        f32::NAN.copysign(alpha)
    } else {
        alpha
    }
}

impl<'a> PreluF16c<'a> {
    /// The work for `x` (`None`: in place), one α per channel, `inner` elements per channel run.
    /// Channel-innermost (inner = 1), it widens α once here rather than in every row.
    pub fn new(x: Option<&'a [f16]>, alpha: &'a [f16], inner: usize, cpu: F16c) -> PreluF16c<'a> {
        let (mut wide, mut zero) = (Vec::new(), Vec::new());
        if inner == 1 {
            wide = vec![0.0f32; alpha.len()];
            widen_f16(alpha, &mut wide, Some(cpu));
            for w in wide.iter_mut() {
                *w = without_nan_payload(*w);
            }
            zero = alpha
                .iter()
                .map(|a| if a.to_bits() & 0x7fff == 0 { 0xffff } else { 0 })
                .collect();
        }
        PreluF16c {
            x,
            alpha,
            inner,
            wide,
            zero,
            cpu,
        }
    }
}

impl ChunkOp<f16> for PreluF16c<'_> {
    const COST: usize = 2;
    #[inline(always)]
    fn apply(&self, start: usize, out: &mut [f16]) {
        let x = self.x.map(|x| &x[start..start + out.len()]);
        let channels = self.alpha.len();
        let n = out.len();
        if self.inner == 1 {
            let _proof = self.cpu;
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the token proves the CPU has F16C and AVX2.
            unsafe {
                x86::prelu_innermost_f16c(x, out, self.alpha, &self.wide, &self.zero, start)
            };
            #[cfg(not(target_arch = "x86_64"))]
            prelu(x, out, self.alpha, 1, start);
            return;
        }
        for (i, run, ch) in Runs::new(start, n, self.inner, channels) {
            let xs = x.map(|x| &x[i..i + run]);
            let o = &mut out[i..i + run];
            let alpha = self.alpha[ch].to_f32();
            if alpha == 0.0 {
                map_unary(&Relu, xs, o);
            } else if !alpha.is_finite() {
                // LeakyReluF16c needs a finite α; ±∞ and NaN are rare enough for the generic kernel
                leaky_relu(xs, o, self.alpha[ch]);
            } else {
                LeakyReluF16c {
                    x: xs,
                    alpha,
                    cpu: self.cpu,
                }
                .apply(0, o);
            }
        }
    }
}

/// Forward PReLU over whole arrays, as chunk work.
pub struct Prelu<'a, T> {
    pub x: Option<&'a [T]>,
    pub alpha: &'a [T],
    pub inner: usize,
}

impl<T: Float> ChunkOp<T> for Prelu<'_, T> {
    const COST: usize = 2;
    #[inline(always)]
    fn apply(&self, start: usize, out: &mut [T]) {
        let x = self.x.map(|x| &x[start..start + out.len()]);
        prelu(x, out, self.alpha, self.inner, start);
    }
}

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
                if T::WIDE {
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
fn prelu_grad_run<T: PreluGradElement>(
    g: &[T],
    x: &[T],
    out: &mut [T],
    alpha: T,
    sum: &mut CompensatedSum,
) {
    if !T::WIDE {
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
            if T::WIDE {
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
    if T::WIDE {
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
    ///
    /// Fusing the two (the generic loop used to form the terms in a second pass, and add them to
    /// lanes in a third) measured, f32, both builds in one process, median of 10: in cache
    /// (2x64x16x16) 1.03 -> 0.93 ns/elem on one thread and 0.65 -> 0.58 on two; at 32x64x56x56
    /// (memory-bound) no change beyond noise.
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
        if let Some(_proof) = F16c::detect() {
            // SAFETY: the token proves the CPU has F16C and AVX2.
            return unsafe { x86::grad_run_lanes_f16c(g, x, out, alpha, lanes) };
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
        if let Some(_proof) = F16c::detect() {
            // SAFETY: as above.
            return unsafe { x86::grad_innermost_plain_f16c(g, x, out, alpha, plain) };
        }
        grad_innermost_plain(g, x, out, alpha, plain);
    }
}

/// The generic [`PreluGradElement::grad_run_lanes`], from element `from` on (the F16C kernel
/// passes its tail here).
#[inline(always)]
fn grad_run_lanes_from<T: Float>(
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
fn grad_run_lanes<T: Float>(
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
/// For f16 without F16C: with its conversions in software the fused loop did not vectorize, and
/// measured 3.5x slower than this (32x64x56x56, one and two threads).
#[inline(always)]
fn grad_run_lanes_passes<T: Float>(
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
fn grad_innermost_plain<T: Float>(g: &[T], x: &[T], out: &mut [T], alpha: &[T], plain: &mut [f64]) {
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

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{f16, grad_innermost_plain, grad_run_lanes_from, leaky_relu_scalar, PLAIN_LANES};
    use crate::kernels::leaky_relu::x86::{scaled, select};
    use std::arch::x86_64::{
        __m128i, __m256, _mm256_add_pd, _mm256_andnot_ps, _mm256_castps256_ps128, _mm256_cmp_ps,
        _mm256_cvtph_ps, _mm256_cvtps_pd, _mm256_cvtps_ph, _mm256_extractf128_ps, _mm256_loadu_pd,
        _mm256_loadu_ps, _mm256_mul_ps, _mm256_set1_ps, _mm256_setzero_ps, _mm256_storeu_pd,
        _mm_and_si128, _mm_andnot_si128, _mm_blendv_epi8, _mm_cmpeq_epi16, _mm_cmpgt_epi16,
        _mm_loadu_si128, _mm_or_si128, _mm_set1_epi16, _mm_setzero_si128, _mm_storeu_si128,
        _CMP_GE_OQ, _MM_FROUND_TO_NEAREST_INT,
    };

    /// Forward PReLU, channel-innermost (inner = 1), on the piece of the flat array that starts
    /// at flat index `start`: `out[i] = leaky_relu(x[i]; alpha[(start + i) % channels])` for f16
    /// (`x = None`: in place), with F16C. `wide` and `zero` are α prepared by
    /// [`super::PreluF16c::new`]. Per 8 elements: widen x, α·x in f32 (exact), round once, zero it
    /// where x is −0 or α is ±0, and keep x where x > 0, x = +0 or x is NaN (one compare on the
    /// bits): 12 instructions with the loads and the store. The same bits as
    /// [`super::leaky_relu_scalar`] on f16. The row walk is in here, so a few channels per row
    /// cost no call per row.
    ///
    /// # Safety
    /// The CPU has AVX2 and F16C; `x`, when given, has `out.len()` elements; `wide` and `zero`
    /// have `alpha.len()`.
    #[target_feature(enable = "avx2,f16c")]
    pub unsafe fn prelu_innermost_f16c(
        x: Option<&[f16]>,
        out: &mut [f16],
        alpha: &[f16],
        wide: &[f32],
        zero: &[u16],
        start: usize,
    ) {
        let (n, channels) = (out.len(), alpha.len());
        let (wide, zero) = (&wide[..channels], &zero[..channels]);
        let dst = out.as_mut_ptr();
        let src = x.map_or(dst.cast_const(), <[f16]>::as_ptr);
        // as i16, the bits of +0, x > 0 and every NaN (negative NaNs are 0xfc01..=0xffff) are
        // above those of −∞ (0xfc00); −0 (0x8000) and x < 0 are at or below
        let negative_infinity = _mm_set1_epi16(0xfc00u16 as i16);
        let negative_zero = _mm_set1_epi16(0x8000u16 as i16);
        let mut i = 0;
        let mut ch = start % channels;
        while i < n {
            let run = (n - i).min(channels - ch);
            let full = run / 8 * 8;
            for j in (0..full).step_by(8) {
                // SAFETY: i + j + 8 <= n elements of `out` (and `x`), ch + j + 8 <= channels of
                // `wide` and `zero`; each group is read before it is written, so in place works.
                unsafe {
                    let xh = _mm_loadu_si128(src.add(i + j).cast::<__m128i>());
                    let a = _mm256_loadu_ps(wide.as_ptr().add(ch + j));
                    let p = _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(_mm256_mul_ps(
                        a,
                        _mm256_cvtph_ps(xh),
                    ));
                    // x = −0 or α = ±0: +0 (0·(−∞) would be NaN, and so would NaN·(−0))
                    let to_zero = _mm_or_si128(
                        _mm_cmpeq_epi16(xh, negative_zero),
                        _mm_loadu_si128(zero.as_ptr().add(ch + j).cast::<__m128i>()),
                    );
                    let keep = _mm_cmpgt_epi16(xh, negative_infinity);
                    let r = _mm_blendv_epi8(_mm_andnot_si128(to_zero, p), xh, keep);
                    _mm_storeu_si128(dst.add(i + j).cast::<__m128i>(), r);
                }
            }
            for j in full..run {
                // SAFETY: as above.
                unsafe { *dst.add(i + j) = leaky_relu_scalar(*src.add(i + j), alpha[ch + j]) };
            }
            i += run;
            ch = 0;
        }
    }

    /// The α-gradient terms of 8 elements as f32: g·x (exact: 22 significant bits, and at least
    /// 2^−48), 0 where x ≥ 0, NaN where x is NaN.
    #[inline(always)]
    unsafe fn terms(g: __m256, x: __m256) -> __m256 {
        let nonnegative = _mm256_cmp_ps::<_CMP_GE_OQ>(x, _mm256_setzero_ps());
        _mm256_andnot_ps(nonnegative, _mm256_mul_ps(g, x))
    }

    /// [`super::PreluGradElement::grad_run_lanes`] for f16 with F16C: per 8 elements, widen g and
    /// x, form α·g and the terms in f32, round once, select on the bits. The lanes get the same
    /// terms in the same order as the generic loop, so the sums are bit for bit the same.
    ///
    /// # Safety
    /// The CPU has AVX2 and F16C.
    #[target_feature(enable = "avx2,f16c")]
    pub unsafe fn grad_run_lanes_f16c(
        g: &[f16],
        x: &[f16],
        out: &mut [f16],
        alpha: f16,
        lanes: &mut [f64; PLAIN_LANES],
    ) {
        let n = out.len();
        let (g, x) = (&g[..n], &x[..n]);
        let a = _mm256_set1_ps(alpha.to_f32());
        let alpha_is_zero = alpha.to_bits() & 0x7fff == 0;
        let full = n - n % PLAIN_LANES;
        let lp = lanes.as_mut_ptr();
        // SAFETY: lanes has 16 = 4 × 4 f64.
        let mut acc = unsafe { [0, 4, 8, 12].map(|l| _mm256_loadu_pd(lp.add(l))) };
        for s in (0..full).step_by(PLAIN_LANES) {
            for half in 0..2 {
                let i = s + 8 * half;
                // SAFETY: i + 8 <= full <= n elements of g, x and out.
                unsafe {
                    let gh = _mm_loadu_si128(g.as_ptr().add(i).cast::<__m128i>());
                    let xh = _mm_loadu_si128(x.as_ptr().add(i).cast::<__m128i>());
                    let (gf, xf) = (_mm256_cvtph_ps(gh), _mm256_cvtph_ps(xh));
                    let p = if alpha_is_zero {
                        _mm_setzero_si128()
                    } else {
                        scaled(a, gf)
                    };
                    let r = select(gh, xh, p);
                    _mm_storeu_si128(out.as_mut_ptr().add(i).cast::<__m128i>(), r);
                    let t = terms(gf, xf);
                    acc[2 * half] =
                        _mm256_add_pd(acc[2 * half], _mm256_cvtps_pd(_mm256_castps256_ps128(t)));
                    acc[2 * half + 1] = _mm256_add_pd(
                        acc[2 * half + 1],
                        _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(t)),
                    );
                }
            }
        }
        for (k, v) in acc.into_iter().enumerate() {
            // SAFETY: as above.
            unsafe { _mm256_storeu_pd(lp.add(4 * k), v) };
        }
        grad_run_lanes_from(g, x, out, alpha, lanes, full);
    }

    /// [`super::PreluGradElement::grad_innermost_plain`] for f16 with F16C, as
    /// [`grad_run_lanes_f16c`] with one α per element.
    ///
    /// # Safety
    /// The CPU has AVX2 and F16C.
    #[target_feature(enable = "avx2,f16c")]
    pub unsafe fn grad_innermost_plain_f16c(
        g: &[f16],
        x: &[f16],
        out: &mut [f16],
        alpha: &[f16],
        plain: &mut [f64],
    ) {
        let n = out.len();
        let (g, x, alpha, plain) = (&g[..n], &x[..n], &alpha[..n], &mut plain[..n]);
        let full = n / 8 * 8;
        for i in (0..full).step_by(8) {
            // SAFETY: i + 8 <= n elements of every slice.
            unsafe {
                let gh = _mm_loadu_si128(g.as_ptr().add(i).cast::<__m128i>());
                let xh = _mm_loadu_si128(x.as_ptr().add(i).cast::<__m128i>());
                let ah = _mm_loadu_si128(alpha.as_ptr().add(i).cast::<__m128i>());
                let (gf, xf) = (_mm256_cvtph_ps(gh), _mm256_cvtph_ps(xh));
                let alpha_is_zero = _mm_cmpeq_epi16(
                    _mm_and_si128(ah, _mm_set1_epi16(0x7fff)),
                    _mm_setzero_si128(),
                );
                let p = _mm_andnot_si128(alpha_is_zero, scaled(_mm256_cvtph_ps(ah), gf));
                let r = select(gh, xh, p);
                _mm_storeu_si128(out.as_mut_ptr().add(i).cast::<__m128i>(), r);
                let t = terms(gf, xf);
                let pp = plain.as_mut_ptr().add(i);
                let lo = _mm256_add_pd(
                    _mm256_loadu_pd(pp),
                    _mm256_cvtps_pd(_mm256_castps256_ps128(t)),
                );
                let hi = _mm256_add_pd(
                    _mm256_loadu_pd(pp.add(4)),
                    _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(t)),
                );
                _mm256_storeu_pd(pp, lo);
                _mm256_storeu_pd(pp.add(4), hi);
            }
        }
        grad_innermost_plain(
            &g[full..],
            &x[full..],
            &mut out[full..],
            &alpha[full..],
            &mut plain[full..],
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The F16C forward gives the generic f16 forward's bits: every f16 value, channels with
    /// α = 0, −1, ±∞, NaN and values that round, runs cut at chunk starts, in and out of place.
    /// Channel-innermost, x is also shifted through every channel position, so each value meets
    /// each α in the 8-lane loop and in the scalar tail of a row.
    #[test]
    fn f16c_forward_matches_generic() {
        let Some(cpu) = F16c::detect() else {
            return;
        };
        let every: Vec<f16> = (0..=u16::MAX).map(f16::from_bits).collect();
        // NaN α with payloads: a product keeps them unless made the generic quiet NaN; ±∞ α:
        // ∞·(−0) is NaN where the generic kernel gives +0
        let alphas = [
            0x3400u16, 0x0000, 0xbc00, 0x2e66, 0x01f7, 0x8000, 0x7bff, 0x7d23, 0xfe01, 0x7c00,
            0xfc00,
        ]
        .map(f16::from_bits);
        let cases = (0..alphas.len()).flat_map(|r| {
            let shifts = (0..alphas.len()).map(move |s| (r, 1usize, s, 0usize));
            let cut = [(1usize, 3usize), (1, 1001)].into_iter();
            let runs = [7usize, 1000]
                .into_iter()
                .flat_map(|inner| [0usize, 3, 1001].map(|start| (inner, start)));
            shifts.chain(
                cut.chain(runs)
                    .map(move |(inner, start)| (r, inner, 0, start)),
            )
        });
        for (rotation, inner, shift, start) in cases {
            let mut alpha = alphas.to_vec();
            alpha.rotate_left(rotation);
            let mut x = every.clone();
            x.rotate_left(shift);
            let n = x.len() / (alpha.len() * inner) * (alpha.len() * inner);
            let (xs, len) = (&x[start..n], n - start);
            let mut want = vec![f16::ZERO; len];
            Prelu {
                x: Some(&x[..n]),
                alpha: &alpha,
                inner,
            }
            .apply(start, &mut want);
            let mut got = vec![f16::ZERO; len];
            PreluF16c::new(Some(&x[..n]), &alpha, inner, cpu).apply(start, &mut got);
            let mut in_place = xs.to_vec();
            PreluF16c::new(None, &alpha, inner, cpu).apply(start, &mut in_place);
            for i in 0..len {
                let (w, at) = (want[i].to_bits(), (inner, shift, start, i));
                assert_eq!(got[i].to_bits(), w, "(inner, shift, start, i) = {at:?}");
                assert_eq!(in_place[i].to_bits(), w, "in place, {at:?}");
            }
        }
    }

    /// The F16C backward kernels give the generic f16 loops' bits: every f16 grad against every f16
    /// x (three pairings), plus every pair of special values, for α that round, underflow,
    /// overflow, are ±0 or NaN, with lanes that start non-zero and lengths that leave a tail.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn f16c_backward_matches_generic() {
        if F16c::detect().is_none() {
            return;
        }
        let special: Vec<u16> = vec![
            0x0000, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0xfe00, 0x7c01, 0x7d23, 0xfd00, 0x0001, 0x8001,
            0x03ff, 0x83ff, 0x3c00, 0xbc00, 0x7bff, 0xfbff,
        ];
        let mut g: Vec<u16> = Vec::new();
        let mut x: Vec<u16> = Vec::new();
        for shift in [0u32, 12345, 40000] {
            for i in 0..=u16::MAX as u32 {
                g.push(i as u16);
                x.push((i.wrapping_mul(40503).wrapping_add(shift) & 0xffff) as u16);
            }
        }
        for &a in &special {
            for &b in &special {
                g.push(a);
                x.push(b);
            }
        }
        let (g, x): (Vec<f16>, Vec<f16>) = (
            g.into_iter().map(f16::from_bits).collect(),
            x.into_iter().map(f16::from_bits).collect(),
        );
        let same = |got: f16, want: f16, alpha: f16, g: f16| {
            // with α and grad both NaN, which NaN a product keeps is not fixed
            got.to_bits() == want.to_bits()
                || (got.is_nan() && want.is_nan() && alpha.is_nan() && g.is_nan())
        };
        let same_sum = |a: f64, b: f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
        let alphas = [0.25f32, 0.0, -0.0, -1.0, 3.0e-5, 65504.0, f32::NAN].map(f16::from_f32);
        for len in [g.len(), g.len() - 5] {
            let (g, x) = (&g[..len], &x[..len]);
            for &alpha in &alphas {
                let mut want = vec![f16::ZERO; len];
                let mut got = vec![f16::ZERO; len];
                // runs of 61 (3 blocks and a tail), so a NaN term spoils one run's sums only
                for s in (0..len).step_by(61) {
                    let e = (s + 61).min(len);
                    let mut want_lanes: [f64; PLAIN_LANES] =
                        std::array::from_fn(|l| l as f64 - 7.5);
                    let mut got_lanes = want_lanes;
                    let (gs, xs) = (&g[s..e], &x[s..e]);
                    grad_run_lanes(gs, xs, &mut want[s..e], alpha, &mut want_lanes);
                    // SAFETY: the CPU has F16C (checked above).
                    unsafe {
                        x86::grad_run_lanes_f16c(gs, xs, &mut got[s..e], alpha, &mut got_lanes)
                    };
                    for (a, b) in got_lanes.iter().zip(&want_lanes) {
                        assert!(
                            same_sum(*a, *b),
                            "run lanes at {s}: alpha {alpha}: {a} vs {b}"
                        );
                    }
                }
                for i in 0..len {
                    assert!(
                        same(got[i], want[i], alpha, g[i]),
                        "run: alpha {alpha}, g {:#06x}, x {:#06x}: {:#06x} vs {:#06x}",
                        g[i].to_bits(),
                        x[i].to_bits(),
                        got[i].to_bits(),
                        want[i].to_bits()
                    );
                }
            }
            // one α per element, cycling through all of them
            let alpha: Vec<f16> = (0..len).map(|i| alphas[i % alphas.len()]).collect();
            let mut want = vec![f16::ZERO; len];
            let mut got = vec![f16::ZERO; len];
            let mut want_plain: Vec<f64> = (0..len).map(|i| (i % 5) as f64 - 2.0).collect();
            let mut got_plain = want_plain.clone();
            grad_innermost_plain(g, x, &mut want, &alpha, &mut want_plain);
            // SAFETY: as above.
            unsafe { x86::grad_innermost_plain_f16c(g, x, &mut got, &alpha, &mut got_plain) };
            for i in 0..len {
                assert!(
                    same(got[i], want[i], alpha[i], g[i]),
                    "innermost: alpha {}, g {:#06x}, x {:#06x}: {:#06x} vs {:#06x}",
                    alpha[i],
                    g[i].to_bits(),
                    x[i].to_bits(),
                    got[i].to_bits(),
                    want[i].to_bits()
                );
                assert!(same_sum(got_plain[i], want_plain[i]), "innermost sum {i}");
            }
        }
    }

    /// The three-pass run loop (f16 without F16C) gives the fused loop's bits, gradient and lanes,
    /// at lengths around its block and lane steps.
    #[test]
    fn run_passes_match_fused() {
        let g: Vec<f16> = (0..300u32)
            .map(|i| f16::from_bits((i.wrapping_mul(2654435761) >> 16) as u16 & 0xbfff))
            .collect();
        let x: Vec<f16> = (0..300u32)
            .map(|i| f16::from_bits((i.wrapping_mul(40503) >> 3) as u16 & 0xbfff))
            .collect();
        for len in [0, 1, 15, 16, 17, 63, 64, 65, 130, 300] {
            let mut want = vec![f16::ZERO; len];
            let mut got = vec![f16::ZERO; len];
            let mut want_lanes: [f64; PLAIN_LANES] = std::array::from_fn(|l| l as f64);
            let mut got_lanes = want_lanes;
            let alpha = f16::from_f32(0.3);
            grad_run_lanes(&g[..len], &x[..len], &mut want, alpha, &mut want_lanes);
            grad_run_lanes_passes(&g[..len], &x[..len], &mut got, alpha, &mut got_lanes);
            assert_eq!(
                got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                want.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
            );
            assert_eq!(
                got_lanes.map(f64::to_bits),
                want_lanes.map(f64::to_bits),
                "len {len}"
            );
            assert!(len < 20 || want_lanes.iter().all(|&l| l.is_finite()));
        }
    }

    /// The runs cover the piece in order, each element in the channel `(i / inner) % channels`
    /// says, each run as long as it can be.
    #[test]
    fn runs_follow_the_channel_formula() {
        for (inner, channels) in [(1, 1), (1, 5), (3, 1), (3, 4), (7, 3), (64, 2)] {
            for start in [0, 1, 2, 5, 17, 100] {
                for len in [0, 1, 2, 9, 30, 97] {
                    let mut next = 0;
                    for (i, run, ch) in Runs::new(start, len, inner, channels) {
                        assert_eq!(i, next);
                        assert!(run >= 1);
                        for k in 0..run {
                            let pos = start + i + k;
                            let want = (pos / inner) % channels;
                            let got = if inner == 1 { ch + k } else { ch };
                            assert_eq!(got, want, "inner {inner}, channels {channels}, pos {pos}");
                        }
                        let end = start + i + run;
                        let at_boundary = if inner == 1 {
                            end % channels == 0
                        } else {
                            end % inner == 0
                        };
                        assert!(i + run == len || at_boundary);
                        next = i + run;
                    }
                    assert_eq!(next, len);
                }
            }
        }
    }

    /// (outer, channels, inner) = (2, 3, 2): flat channel pattern 0 0 1 1 2 2 0 0 1 1 2 2.
    #[test]
    fn forward_uses_the_right_channel() {
        let x: Vec<f64> = (0..12).map(|i| -1.0 - i as f64).collect();
        let alpha = [0.5, 0.25, 2.0];
        let mut out = vec![0.0; 12];
        prelu(Some(&x), &mut out, &alpha, 2, 0);
        for (i, (&o, &v)) in out.iter().zip(&x).enumerate() {
            assert_eq!(o, v * alpha[(i / 2) % 3]);
        }
        // A piece starting mid-run, in place.
        let mut piece = x[3..10].to_vec();
        prelu(None, &mut piece, &alpha, 2, 3);
        assert_eq!(piece, out[3..10]);
        // Channel-innermost layout.
        let mut nhwc = vec![0.0; 12];
        prelu(Some(&x), &mut nhwc, &alpha, 1, 0);
        for (i, (&o, &v)) in nhwc.iter().zip(&x).enumerate() {
            assert_eq!(o, v * alpha[i % 3]);
        }
    }

    #[test]
    fn backward_sums_per_channel() {
        for inner in [1usize, 2, 300] {
            let channels = 3;
            let n = 2 * channels * inner;
            let x: Vec<f64> = (0..n).map(|i| ((i * 7919) % 13) as f64 - 6.0).collect();
            let g: Vec<f64> = (0..n).map(|i| ((i * 104729) % 5) as f64 - 2.0).collect();
            let alpha = [0.5, -0.25, 2.0];
            let mut out = vec![0.0; n];
            let mut acc = vec![CompensatedSum::default(); channels];
            let mut plain = vec![0.0; channels];
            prelu_grad_piece(
                Some(&g),
                Some(&x),
                &mut out,
                &alpha,
                inner,
                0,
                &mut acc,
                &mut plain,
                0,
            );
            let mut expect = [0.0; 3];
            for i in 0..n {
                let c = (i / inner) % channels;
                if x[i] < 0.0 {
                    expect[c] += g[i] * x[i];
                }
                let want = if x[i] > 0.0 { g[i] } else { alpha[c] * g[i] };
                assert_eq!(out[i], want);
            }
            let got: Vec<f64> = acc.iter().map(|s| s.value()).collect();
            assert_eq!(got, expect);
            // In place on x gives the same.
            let mut x_out = x.clone();
            let mut acc2 = vec![CompensatedSum::default(); channels];
            prelu_grad_piece(
                Some(&g),
                None,
                &mut x_out,
                &alpha,
                inner,
                0,
                &mut acc2,
                &mut plain,
                0,
            );
            assert_eq!(x_out, out);
            assert_eq!(acc2, acc);
        }
    }

    #[test]
    fn alpha_grad_term_rules() {
        assert_eq!(prelu_alpha_grad_term(2.0f32, -0.0), 0.0);
        assert_eq!(prelu_alpha_grad_term(f32::INFINITY, 0.0), 0.0);
        assert_eq!(prelu_alpha_grad_term(2.0f32, -3.0), -6.0);
        assert!(prelu_alpha_grad_term(1.0f32, f32::NAN).is_nan());
    }
}
