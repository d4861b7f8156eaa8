//! PReLU: leaky ReLU with one α per channel, and its fused backward pass.
//!
//! Layout: a contiguous array viewed in memory order as `(outer, channels, inner)`. Flat element
//! `i` belongs to channel `(i / inner) % channels`. NCHW in C order has `inner = H·W`; NHWC and
//! `(N, C)` have `inner = 1`; a shared α is `channels = 1, inner = len`. The caller derives the three
//! numbers from the shape, the axis and the memory order (C or F).

mod backward;
mod forward;
mod tiles;

pub use backward::PreluGradElement;
// for the F16C kernels (x86-64 only)
#[cfg(target_arch = "x86_64")]
pub(crate) use backward::{grad_innermost_plain, grad_run_lanes_from, PLAIN_LANES};
#[cfg(target_arch = "x86_64")]
pub use forward::PreluBf16;
pub use forward::{Prelu, PreluF16c};
pub use tiles::prelu_grad;

use crate::element::Float;
use crate::kernels::elementwise::STAGE;

/// Elements handled per inner block; in-place inputs are staged through a stack buffer this big.
pub(crate) const BLOCK: usize = STAGE;

/// The channel runs of the piece of the flat array at `start..start + len`, in order: `(offset
/// in the piece, length, channel)`. Channel-innermost (`inner = 1`) a run is a row's consecutive
/// channels, `channel` its first. Two divisions for the whole piece, none per run (small rows
/// made them the larger part of the work).
#[derive(Clone, Copy)]
pub(crate) struct Runs {
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
    pub(crate) fn new(start: usize, len: usize, inner: usize, channels: usize) -> Runs {
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

#[cfg(test)]
mod tests {
    use super::backward::*;
    use super::forward::*;
    use super::*;
    use crate::kernels::elementwise::ChunkOp;
    use crate::math::CompensatedSum;
    use crate::simd::F16c;
    use half::f16;

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

    /// The bf16 AVX2 and AVX-512 forward kernels give the generic bf16 forward's bits: every bf16
    /// value against channels with α = ±0, −1, ±∞, NaN (payloads), subnormal, huge and values
    /// whose products round, underflow or overflow; rows of 15, 40 and 100 channels (full steps,
    /// masked or scalar ends), starting mid-row; in and out of place. Channel-innermost on both
    /// paths; runs (inner > 1) on the path in use.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn bf16_forward_matches_generic() {
        use crate::simd::x86::bf16 as simd;
        use half::bf16;
        let Some(cpu) = F16c::detect() else {
            return;
        };
        type Innermost = unsafe fn(Option<&[bf16]>, &mut [bf16], &[bf16], usize);
        let mut paths: Vec<Innermost> = vec![simd::prelu_innermost_bf16_avx2];
        if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw") {
            paths.push(simd::prelu_innermost_bf16_avx512);
        }
        let every: Vec<bf16> = (0..=u16::MAX).map(bf16::from_bits).collect();
        let special = [
            0x3c24u16, 0x0000, 0x8000, 0xbf80, 0x3e80, 0x0001, 0x7f7f, 0x7f80, 0xff80, 0x7fc1,
            0xffa0, 0x3f81, 0xbf33, 0x00ff, 0x0d80,
        ]
        .map(bf16::from_bits);
        for channels in [special.len(), 40, 100] {
            for rotation in 0..special.len() {
                let alpha: Vec<bf16> = (0..channels)
                    .map(|c| special[(c + rotation) % special.len()])
                    .collect();
                for start in [0usize, 3, 1001] {
                    let x = &every[start..];
                    let mut want = vec![bf16::ZERO; x.len()];
                    prelu(Some(x), &mut want, &alpha, 1, start);
                    for path in &paths {
                        let mut got = vec![bf16::ZERO; x.len()];
                        let mut in_place = x.to_vec();
                        // SAFETY: the features were checked above; the lengths agree.
                        unsafe {
                            path(Some(x), &mut got, &alpha, start);
                            path(None, &mut in_place, &alpha, start);
                        }
                        for i in 0..x.len() {
                            let at = (channels, rotation, start, i);
                            assert_eq!(got[i].to_bits(), want[i].to_bits(), "{at:?}");
                            assert_eq!(in_place[i].to_bits(), want[i].to_bits(), "{at:?}");
                        }
                    }
                    if channels != special.len() || rotation > 0 {
                        continue;
                    }
                    for inner in [7usize, 1000] {
                        let mut want = vec![bf16::ZERO; x.len()];
                        prelu(Some(x), &mut want, &alpha, inner, start);
                        let mut got = vec![bf16::ZERO; x.len()];
                        let op = PreluBf16 {
                            x: Some(&every),
                            alpha: &alpha,
                            inner,
                            cpu,
                        };
                        op.apply(start, &mut got);
                        let same = got
                            .iter()
                            .zip(&want)
                            .all(|(g, w)| g.to_bits() == w.to_bits());
                        assert!(same, "runs of {inner}, start {start}");
                    }
                }
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    type RunKernel<T> = unsafe fn(&[T], &[T], &mut [T], T, &mut [f64; PLAIN_LANES]);
    #[cfg(target_arch = "x86_64")]
    type InnermostKernel<T> = unsafe fn(&[T], &[T], &mut [T], &[T], &mut [f64]);

    /// The one-pass backward kernels of a half type (bits `from_bits`/`to_bits`), against the
    /// generic loops: every grad against every x (three pairings), plus every pair of `special`
    /// values, for `alphas`, with lanes that start non-zero and lengths that leave a tail. Where
    /// α and grad are both NaN, which NaN a product keeps is not fixed unless `exact_nans`.
    #[cfg(target_arch = "x86_64")]
    #[allow(clippy::too_many_arguments)]
    fn backward_matches_generic<T: PreluGradElement + std::fmt::Display>(
        from_bits: fn(u16) -> T,
        to_bits: fn(T) -> u16,
        special: &[u16],
        alphas: &[T],
        exact_nans: bool,
        run_kernel: RunKernel<T>,
        innermost_kernel: InnermostKernel<T>,
    ) {
        let mut g: Vec<u16> = Vec::new();
        let mut x: Vec<u16> = Vec::new();
        for shift in [0u32, 12345, 40000] {
            for i in 0..=u16::MAX as u32 {
                g.push(i as u16);
                x.push((i.wrapping_mul(40503).wrapping_add(shift) & 0xffff) as u16);
            }
        }
        for &a in special {
            for &b in special {
                g.push(a);
                x.push(b);
            }
        }
        let (g, x): (Vec<T>, Vec<T>) = (
            g.into_iter().map(from_bits).collect(),
            x.into_iter().map(from_bits).collect(),
        );
        let same = |got: T, want: T, alpha: T, g: T| {
            to_bits(got) == to_bits(want)
                || (!exact_nans && got.is_nan() && want.is_nan() && alpha.is_nan() && g.is_nan())
        };
        let same_sum = |a: f64, b: f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
        let zero = from_bits(0);
        for len in [g.len(), g.len() - 5] {
            let (g, x) = (&g[..len], &x[..len]);
            for &alpha in alphas {
                let mut want = vec![zero; len];
                let mut got = vec![zero; len];
                // runs of 61 (3 blocks and a tail), so a NaN term spoils one run's sums only
                for s in (0..len).step_by(61) {
                    let e = (s + 61).min(len);
                    let mut want_lanes: [f64; PLAIN_LANES] =
                        std::array::from_fn(|l| l as f64 - 7.5);
                    let mut got_lanes = want_lanes;
                    let (gs, xs) = (&g[s..e], &x[s..e]);
                    grad_run_lanes(gs, xs, &mut want[s..e], alpha, &mut want_lanes);
                    // SAFETY: the caller checked the kernel's CPU features.
                    unsafe { run_kernel(gs, xs, &mut got[s..e], alpha, &mut got_lanes) };
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
                        to_bits(g[i]),
                        to_bits(x[i]),
                        to_bits(got[i]),
                        to_bits(want[i])
                    );
                }
            }
            // one α per element, cycling through all of them
            let alpha: Vec<T> = (0..len).map(|i| alphas[i % alphas.len()]).collect();
            let mut want = vec![zero; len];
            let mut got = vec![zero; len];
            let mut want_plain: Vec<f64> = (0..len).map(|i| (i % 5) as f64 - 2.0).collect();
            let mut got_plain = want_plain.clone();
            grad_innermost_plain(g, x, &mut want, &alpha, &mut want_plain);
            // SAFETY: as above.
            unsafe { innermost_kernel(g, x, &mut got, &alpha, &mut got_plain) };
            for i in 0..len {
                assert!(
                    same(got[i], want[i], alpha[i], g[i]),
                    "innermost: alpha {}, g {:#06x}, x {:#06x}: {:#06x} vs {:#06x}",
                    alpha[i],
                    to_bits(g[i]),
                    to_bits(x[i]),
                    to_bits(got[i]),
                    to_bits(want[i])
                );
                assert!(same_sum(got_plain[i], want_plain[i]), "innermost sum {i}");
            }
        }
    }

    /// The F16C backward kernels give the generic f16 loops' bits, for α that round, underflow,
    /// overflow, are ±0 or NaN.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn f16c_backward_matches_generic() {
        if F16c::detect().is_none() {
            return;
        }
        let special = [
            0x0000, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0xfe00, 0x7c01, 0x7d23, 0xfd00, 0x0001, 0x8001,
            0x03ff, 0x83ff, 0x3c00, 0xbc00, 0x7bff, 0xfbff,
        ];
        let alphas = [0.25f32, 0.0, -0.0, -1.0, 3.0e-5, 65504.0, f32::NAN].map(f16::from_f32);
        backward_matches_generic(
            f16::from_bits,
            f16::to_bits,
            &special,
            &alphas,
            false,
            crate::simd::x86::f16c::prelu::grad_run_lanes_f16c,
            crate::simd::x86::f16c::prelu::grad_innermost_plain_f16c,
        );
    }

    /// The AVX2 bf16 backward kernels give the generic bf16 loops' bits (NaNs included: both
    /// make every NaN product the canonical NaN), for α that round, underflow products below
    /// f32's range (whose terms only f64 holds), overflow, are ±0, ±∞ or NaN.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn bf16_backward_matches_generic() {
        use half::bf16;
        if F16c::detect().is_none() {
            return;
        }
        let special = [
            0x0000, 0x8000, 0x7f80, 0xff80, 0x7fc0, 0xffc0, 0x7f81, 0x7fa3, 0xff90, 0x0001, 0x8001,
            0x007f, 0x807f, 0x3f80, 0xbf80, 0x7f7f, 0xff7f, 0x0080,
        ];
        let alphas = [
            0x3e80u16, 0x0000, 0x8000, 0xbf80, 0x0d80, 0x0001, 0x7f7f, 0x7f80, 0x7fc1,
        ]
        .map(bf16::from_bits);
        backward_matches_generic(
            bf16::from_bits,
            bf16::to_bits,
            &special,
            &alphas,
            true,
            crate::simd::x86::bf16::grad_run_lanes_bf16_avx2,
            crate::simd::x86::bf16::grad_innermost_plain_bf16_avx2,
        );
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
