//! PReLU forward: the generic kernel, the float16 F16C one and the bfloat16 AVX2/AVX-512 one.

use super::Runs;
use crate::element::Float;
use crate::kernels::elementwise::{map_unary, ChunkOp};
#[cfg(target_arch = "x86_64")]
use crate::kernels::leaky_relu::LeakyReluBf16;
use crate::kernels::leaky_relu::{leaky_relu_scalar, LeakyRelu, LeakyReluF16c};
use crate::simd::F16c;
#[cfg(target_arch = "x86_64")]
use half::bf16;
use half::f16;

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
/// goes through the one-pass leaky kernel [`LeakyReluF16c`];
/// channel-innermost layouts (inner = 1) through a one-pass kernel with one α per element (the
/// same bit selects, α = 0 lanes zeroed). Bit-identical to [`Prelu`] on f16.
pub struct PreluF16c<'a> {
    x: Option<&'a [f16]>,
    alpha: &'a [f16],
    inner: usize,
    cpu: F16c,
}

impl<'a> PreluF16c<'a> {
    /// The work for `x` (`None`: in place), one α per channel, `inner` elements per channel run.
    pub fn new(x: Option<&'a [f16]>, alpha: &'a [f16], inner: usize, cpu: F16c) -> PreluF16c<'a> {
        PreluF16c {
            x,
            alpha,
            inner,
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
                crate::simd::x86::f16c::prelu::prelu_innermost_f16c(x, out, self.alpha, start)
            };
            #[cfg(not(target_arch = "x86_64"))]
            prelu(x, out, self.alpha, 1, start);
            return;
        }
        for (i, run, ch) in Runs::new(start, n, self.inner, channels) {
            let xs = x.map(|x| &x[i..i + run]);
            let o = &mut out[i..i + run];
            LeakyReluF16c {
                x: xs,
                alpha: self.alpha[ch].to_f32(),
                cpu: self.cpu,
            }
            .apply(0, o);
        }
    }
}

/// Forward PReLU on bf16 arrays with AVX2 or AVX-512, as chunk work: each channel run (inner > 1)
/// goes through the one-pass leaky kernel [`LeakyReluBf16`] with the channel's α (exact in f32),
/// channel-innermost layouts through a one-pass kernel with one α per element. Bit-identical to
/// [`Prelu`] on bf16. Its token proves AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
pub struct PreluBf16<'a> {
    pub x: Option<&'a [bf16]>,
    pub alpha: &'a [bf16],
    pub inner: usize,
    pub cpu: F16c,
}

#[cfg(target_arch = "x86_64")]
impl ChunkOp<bf16> for PreluBf16<'_> {
    const COST: usize = 2;
    #[inline(always)]
    fn apply(&self, start: usize, out: &mut [bf16]) {
        use crate::simd::x86::bf16::{prelu_innermost_bf16_avx2, prelu_innermost_bf16_avx512};
        let x = self.x.map(|x| &x[start..start + out.len()]);
        if self.inner == 1 {
            if self.cpu.avx512() {
                // SAFETY: `avx512()` says the path in use is AVX-512, whose check covers F, BW.
                unsafe { prelu_innermost_bf16_avx512(x, out, self.alpha, start) };
            } else {
                // SAFETY: the token proves the CPU has AVX2.
                unsafe { prelu_innermost_bf16_avx2(x, out, self.alpha, start) };
            }
            return;
        }
        for (i, run, ch) in Runs::new(start, out.len(), self.inner, self.alpha.len()) {
            LeakyReluBf16 {
                x: x.map(|x| &x[i..i + run]),
                alpha: self.alpha[ch].to_f32(),
                cpu: self.cpu,
            }
            .apply(0, &mut out[i..i + run]);
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
