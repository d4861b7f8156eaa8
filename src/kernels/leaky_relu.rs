//! Leaky ReLU and its gradient, for one α shared by every element.

use super::elementwise::{map_unary, BinaryOp, ChunkOp, UnaryOp};
use super::relu::Relu;
use crate::element::Float;
use crate::simd::F16c;
use half::{bf16, f16};

/// An α that can scale elements of type `T`: α·v rounded once to `T`.
///
/// Every float type scales itself ([`Float::mul`]); f16 and bf16 data also take an f32 α (a
/// scalar α is kept at the compute precision, as PyTorch's opmath does, rather than rounded to
/// the half type first), and that product is formed exactly in f64 and rounded once.
pub trait Scale<T>: Copy + Send + Sync {
    fn scale(self, v: T) -> T;
    fn is_zero(self) -> bool;
}

impl<T: Float> Scale<T> for T {
    #[inline(always)]
    fn scale(self, v: T) -> T {
        self.mul(v)
    }
    #[inline(always)]
    fn is_zero(self) -> bool {
        self == T::ZERO
    }
}

impl Scale<f16> for f32 {
    #[inline(always)]
    fn scale(self, v: f16) -> f16 {
        // 11 × 24 significant bits: exact in f64
        f16::round_from_f64(v.to_f64() * self as f64).canonical()
    }
    #[inline(always)]
    fn is_zero(self) -> bool {
        self == 0.0
    }
}

/// α·v in f32 (one multiplication), then once to bf16. The f32 product rounds the exact one
/// (8 × 24 significant bits) a second time only where it lands on a bf16 midpoint, so there the
/// sign of the exact remainder (FMA) decides: the product is moved one f32 step toward the exact
/// value before rounding. Below 2⁻¹⁰⁰ the remainder is taken at scale 2⁶⁴, where it is exact
/// (a midpoint is at least 2⁻¹³⁴; its exact product at scale is normal). Correctly rounded, as
/// the f64 product rounded once, at f32 speed (FMA in every SIMD path; libm's fmaf on the
/// scalar one).
impl Scale<bf16> for f32 {
    #[inline(always)]
    fn scale(self, v: bf16) -> bf16 {
        const TINY: f32 = 7.888_609e-31; // 2^-100
        const UP: f32 = 18_446_744_073_709_551_616.0; // 2^64
        let x = crate::element::bf16_to_f32(v.to_bits());
        let p = x * self;
        let k = if p.abs() < TINY { UP } else { 1.0 };
        let rem = x.mul_add(self * k, -(p * k)); // exact: x·α·k − p·k
        let bits = p.to_bits();
        let on_midpoint = bits & 0xffff == 0x8000 && rem != 0.0;
        // toward the exact value: +1 step in magnitude where the remainder has p's sign
        let step = if (rem > 0.0) == (p > 0.0) {
            1
        } else {
            u32::MAX
        };
        let nudged = if on_midpoint {
            bits.wrapping_add(step)
        } else {
            bits
        };
        bf16::from_bits(crate::element::f32_to_bf16(f32::from_bits(nudged))).canonical()
    }
    #[inline(always)]
    fn is_zero(self) -> bool {
        self == 0.0
    }
}

/// leaky_relu(x; α) = x if x > 0 else α·x = max(0, x) + α·min(0, x).
///
/// * α = 0 is exactly relu (even at x = −∞, where α·x would be NaN); α = −1 is |x|.
/// * NaN in, the same NaN out. ±0 in gives +0 for every α.
/// * α·x is rounded once in the element type ([`Scale`]), so the result is correctly rounded:
///   ≤ 0.5 ULP, and exact where x > 0.
#[inline(always)]
pub fn leaky_relu_scalar<T: Float, A: Scale<T>>(x: T, alpha: A) -> T {
    // The product first, unconditionally: a select of computed values is what vectorizes (with
    // the product inside the branch, the f16 loop stayed scalar, 7x slower than torch).
    let scaled = alpha.scale(x);
    if x > T::ZERO || x.is_nan() {
        x
    } else if x == T::ZERO || alpha.is_zero() {
        T::ZERO
    } else {
        scaled
    }
}

/// [`leaky_relu_scalar`] with a fixed α, as an elementwise operation.
pub struct LeakyRelu<A> {
    pub alpha: A,
}

impl<T: Float, A: Scale<T>> UnaryOp<T> for LeakyRelu<A> {
    #[inline(always)]
    fn apply(&self, x: T) -> T {
        leaky_relu_scalar(x, self.alpha)
    }
}

/// `out = leaky_relu(x; alpha)` elementwise; `x = None` works in place.
#[cfg(test)]
#[inline(always)]
pub fn leaky_relu<T: Float, A: Scale<T>>(x: Option<&[T]>, out: &mut [T], alpha: A) {
    map_unary(&LeakyRelu { alpha }, x, out);
}

/// d/dx leaky_relu(x; α)·grad = grad if x > 0 else α·grad; the gradient at x = 0 is α.
///
/// * NaN where x is NaN. α = 0 gives exactly relu's gradient (0, not 0·grad, where x ≤ 0, so an
///   infinite grad there does not become NaN).
/// * For α > 0 the output of leaky_relu is positive exactly where its input is, so `x` may be
///   the forward output.
/// * α·grad is rounded once: ≤ 0.5 ULP.
#[inline(always)]
pub fn leaky_relu_grad_scalar<T: Float, A: Scale<T>>(grad: T, x: T, alpha: A) -> T {
    let scaled = alpha.scale(grad); // unconditionally, as in leaky_relu_scalar
    if x > T::ZERO {
        grad
    } else if x.is_nan() {
        x
    } else if alpha.is_zero() {
        T::ZERO
    } else {
        scaled
    }
}

/// [`leaky_relu_grad_scalar`] with a fixed α, as an elementwise operation.
pub struct LeakyReluGrad<A> {
    pub alpha: A,
}

impl<T: Float, A: Scale<T>> BinaryOp<T> for LeakyReluGrad<A> {
    #[inline(always)]
    fn apply(&self, grad: T, x: T) -> T {
        leaky_relu_grad_scalar(grad, x, self.alpha)
    }
}

/// `out = leaky_relu_grad(grad, x; alpha)` elementwise; `None` for an input means it is `out`.
#[cfg(test)]
#[inline(always)]
pub fn leaky_relu_grad<T: Float, A: Scale<T>>(
    grad: Option<&[T]>,
    x: Option<&[T]>,
    out: &mut [T],
    alpha: A,
) {
    super::elementwise::map_binary(&LeakyReluGrad { alpha }, grad, x, out);
}

/// Leaky ReLU on f16 arrays in one pass with F16C, as chunk work: per 8 elements, widen, α·x
/// rounded to odd in f32 (a product, its exact error by FMA, and a few integer ops), + 0, round
/// once to f16, and keep the input's bits where x > 0, x = +0 or x is NaN (one integer compare,
/// one blend).
///
/// The same results, bit for bit, as [`leaky_relu_scalar`] on f16 with this f32 α (α·x rounded
/// once from the exact product; the + 0 makes α·(−0) +0). That holds for finite α ≠ 0; α = 0
/// runs relu (0·(−∞) would be NaN) and ±∞ or NaN α the generic kernel (α·(−0) would be NaN).
/// Its token proves the CPU has F16C.
pub struct LeakyReluF16c<'a> {
    pub x: Option<&'a [f16]>,
    /// α at compute precision (PReLU's f16 α, widened exactly).
    pub alpha: f32,
    pub cpu: F16c,
}

impl ChunkOp<f16> for LeakyReluF16c<'_> {
    #[inline(always)]
    fn apply(&self, start: usize, out: &mut [f16]) {
        let x = self.x.map(|x| &x[start..start + out.len()]);
        if self.alpha == 0.0 {
            return map_unary(&Relu, x, out);
        }
        let generic = LeakyRelu { alpha: self.alpha };
        if !self.alpha.is_finite() || cfg!(not(target_arch = "x86_64")) {
            return map_unary(&generic, x, out);
        }
        let _proof = self.cpu;
        #[cfg(target_arch = "x86_64")]
        if self.cpu.avx512() {
            // SAFETY: the token proves F16C, and `avx512()` that the path in use is AVX-512,
            // whose check covers F, BW, VL and FMA.
            unsafe {
                crate::simd::x86::f16c::leaky_relu::leaky_relu_f16_avx512(x, out, self.alpha)
            };
        } else {
            // SAFETY: the token proves the CPU has F16C, AVX2 and FMA.
            unsafe { crate::simd::x86::f16c::leaky_relu::leaky_relu_f16c(x, out, self.alpha) };
        }
    }
}

/// Leaky ReLU on bf16 arrays in one pass with AVX2 or AVX-512, as chunk work (see
/// `crate::simd::x86::bf16`): the same bits as [`leaky_relu_scalar`] with this f32 α. For finite
/// α ≠ 0; α = 0 runs relu and a non-finite α the generic kernel. Its token proves AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
pub struct LeakyReluBf16<'a> {
    pub x: Option<&'a [bf16]>,
    pub alpha: f32,
    pub cpu: F16c,
}

#[cfg(target_arch = "x86_64")]
impl ChunkOp<bf16> for LeakyReluBf16<'_> {
    #[inline(always)]
    fn apply(&self, start: usize, out: &mut [bf16]) {
        use crate::simd::x86::bf16::{leaky_relu_bf16_avx2, leaky_relu_bf16_avx512};
        let x = self.x.map(|x| &x[start..start + out.len()]);
        if self.alpha == 0.0 {
            return map_unary(&Relu, x, out);
        }
        if !self.alpha.is_finite() {
            return map_unary(&LeakyRelu { alpha: self.alpha }, x, out);
        }
        if self.cpu.avx512() {
            // SAFETY: `avx512()` says the path in use is AVX-512, whose check covers F and BW.
            unsafe { leaky_relu_bf16_avx512(x, out, self.alpha) };
        } else {
            // SAFETY: the token proves the CPU has AVX2 and FMA.
            unsafe { leaky_relu_bf16_avx2(x, out, self.alpha) };
        }
    }
}

/// The leaky ReLU gradient on bf16 arrays in one pass with AVX2 or AVX-512, as chunk work: the
/// same bits as [`leaky_relu_grad_scalar`] with this f32 α. For finite α; a non-finite one runs
/// the generic kernel. Its token proves AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
pub struct LeakyReluGradBf16<'a> {
    pub grad: Option<&'a [bf16]>,
    pub x: Option<&'a [bf16]>,
    pub alpha: f32,
    pub cpu: F16c,
}

#[cfg(target_arch = "x86_64")]
impl ChunkOp<bf16> for LeakyReluGradBf16<'_> {
    const COST: usize = 2;
    #[inline(always)]
    fn apply(&self, start: usize, out: &mut [bf16]) {
        use crate::simd::x86::bf16::{leaky_relu_grad_bf16_avx2, leaky_relu_grad_bf16_avx512};
        let n = out.len();
        let grad = self.grad.map(|g| &g[start..start + n]);
        let x = self.x.map(|x| &x[start..start + n]);
        if !self.alpha.is_finite() {
            let op = LeakyReluGrad { alpha: self.alpha };
            return super::elementwise::map_binary(&op, grad, x, out);
        }
        if self.cpu.avx512() {
            // SAFETY: as in `LeakyReluBf16`.
            unsafe { leaky_relu_grad_bf16_avx512(grad, x, out, self.alpha) };
        } else {
            // SAFETY: as in `LeakyReluBf16`.
            unsafe { leaky_relu_grad_bf16_avx2(grad, x, out, self.alpha) };
        }
    }
}

/// The leaky ReLU gradient on f16 arrays in one pass with F16C, as chunk work: per 8 elements,
/// widen grad, α·grad in f32, round once, and select `grad`, `x` or the product on the bits.
///
/// The same results, bit for bit, as [`leaky_relu_grad_scalar`] on f16 (NaN grads where x > 0 and
/// NaN x come back as they were; a NaN product is the generic f16 `mul`'s quiet NaN). Build it
/// with the token that proves the CPU has F16C.
///
/// It replaces the f32 block adapter (widen both inputs, apply, narrow, restore NaNs: five passes
/// over L1), which also quieted a signalling NaN grad where x > 0.
pub struct LeakyReluGradF16c<'a> {
    pub grad: Option<&'a [f16]>,
    pub x: Option<&'a [f16]>,
    /// α at compute precision.
    pub alpha: f32,
    pub cpu: F16c,
}

impl ChunkOp<f16> for LeakyReluGradF16c<'_> {
    const COST: usize = 2;
    #[inline(always)]
    fn apply(&self, start: usize, out: &mut [f16]) {
        let n = out.len();
        let grad = self.grad.map(|g| &g[start..start + n]);
        let x = self.x.map(|x| &x[start..start + n]);
        let _proof = self.cpu;
        #[cfg(target_arch = "x86_64")]
        if self.cpu.avx512() {
            // SAFETY: the token proves F16C, and `avx512()` that the path in use is AVX-512,
            // whose check covers F, BW, VL and FMA.
            unsafe {
                crate::simd::x86::f16c::leaky_relu::leaky_relu_grad_f16_avx512(
                    grad, x, out, self.alpha,
                )
            };
        } else {
            // SAFETY: the token proves the CPU has F16C, AVX2 and FMA.
            unsafe {
                crate::simd::x86::f16c::leaky_relu::leaky_relu_grad_f16c(grad, x, out, self.alpha)
            };
        }
        #[cfg(not(target_arch = "x86_64"))]
        super::elementwise::map_binary(&LeakyReluGrad { alpha: self.alpha }, grad, x, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The AVX-512 and AVX2 bf16 kernels give the generic kernel's bits for every bf16 input
    /// (NaN payloads, ±0, subnormals) as x and as grad (against x of every kind), for α that put
    /// products on bf16 midpoints, underflow them to subnormals or zero (where the FMA error of
    /// the f32 product underflows too), overflow them, or flip signs; out of place, in place,
    /// with a tail.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn bf16_simd_kernels_match_generic_on_every_bf16() {
        use crate::simd::x86::bf16 as simd;
        if !is_x86_feature_detected!("avx2") || !is_x86_feature_detected!("fma") {
            return;
        }
        let avx512 = is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw");
        type Forward = unsafe fn(Option<&[bf16]>, &mut [bf16], f32);
        type Backward = unsafe fn(Option<&[bf16]>, Option<&[bf16]>, &mut [bf16], f32);
        let mut paths: Vec<(&str, Forward, Backward)> = vec![(
            "avx2",
            simd::leaky_relu_bf16_avx2,
            simd::leaky_relu_grad_bf16_avx2,
        )];
        if avx512 {
            paths.push((
                "avx512",
                simd::leaky_relu_bf16_avx512,
                simd::leaky_relu_grad_bf16_avx512,
            ));
        }
        let every: Vec<bf16> = (0..=u16::MAX).map(bf16::from_bits).collect();
        // x for the gradient: every kind, cycling against the grads
        let kinds = [
            1.0f32,
            -2.0,
            0.0,
            -0.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            1e-40,
        ];
        let xs: Vec<bf16> = (0..every.len())
            .map(|i| bf16::from_f32(kinds[(i * 7 + i / 3) % kinds.len()]))
            .collect();
        for alpha in [
            0.01f32,
            0.1,
            -0.7,
            0.3,
            1.5e-38,
            3.0e-45,
            -2.5e30,
            0.0078125,
            1.0 + f32::EPSILON,
            -1.0,
            0.0,
        ] {
            let mut want = vec![bf16::ZERO; every.len()];
            leaky_relu(Some(&every), &mut want, alpha);
            let mut want_grad = vec![bf16::ZERO; every.len()];
            leaky_relu_grad(Some(&every), Some(&xs), &mut want_grad, alpha);
            for (path, forward, backward) in &paths {
                for len in [every.len(), every.len() - 5] {
                    let check = |got: &[bf16], want: &[bf16], what: &str| {
                        for i in 0..len {
                            assert_eq!(
                                got[i].to_bits(),
                                want[i].to_bits(),
                                "{path} {what}: element {i:#06x}, alpha {alpha:e}"
                            );
                        }
                    };
                    let mut got = vec![bf16::ZERO; len];
                    let mut in_place = every[..len].to_vec();
                    if alpha != 0.0 {
                        // SAFETY: the features were checked above; the lengths agree.
                        unsafe {
                            forward(Some(&every[..len]), &mut got, alpha);
                            forward(None, &mut in_place, alpha);
                        }
                        check(&got, &want, "forward");
                        check(&in_place, &want, "forward in place");
                    }
                    let mut in_place = every[..len].to_vec();
                    // SAFETY: as above.
                    unsafe {
                        backward(Some(&every[..len]), Some(&xs[..len]), &mut got, alpha);
                        backward(None, Some(&xs[..len]), &mut in_place, alpha);
                    }
                    check(&got, &want_grad, "gradient");
                    check(&in_place, &want_grad, "gradient in place");
                }
            }
        }
    }

    /// bf16 data with an f32 α: the f32-with-remainder product gives the f64 product rounded
    /// once (round_from_f64: round to odd, then nearest; tested in element.rs), for every bf16
    /// and α that put many products on bf16 midpoints, subnormal and huge ones included.
    #[test]
    fn bf16_scale_is_the_once_rounded_exact_product() {
        let mut alphas = vec![
            0.7f32,
            1.0 / 3.0,
            0.1,
            -0.3,
            0.01,
            1.5,
            f32::MIN_POSITIVE,
            1.0e-40,
            3.0e-39,
            2.0f32.powi(-100) * 1.2345,
            1.0e30,
            f32::MAX,
            -f32::MAX,
        ];
        let mut state = 0x2545_f491_u32;
        for _ in 0..24 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            alphas.push(f32::from_bits(state & 0xbfff_ffff)); // any finite sign and exponent
        }
        for &alpha in &alphas {
            for b in 0..=u16::MAX {
                let v = bf16::from_bits(b);
                if crate::element::ReluElement::is_nan(v) {
                    continue;
                }
                let want = bf16::round_from_f64(v.to_f64() * alpha as f64).canonical();
                let got = alpha.scale(v);
                assert_eq!(got.to_bits(), want.to_bits(), "{b:#x} * {alpha:e}");
            }
        }
    }

    /// The one-pass F16C kernel gives the generic f16 kernel's bits for every f16 input (NaN
    /// payloads, signalling NaNs and -0 included), for α that round, underflow, flip signs or
    /// overflow, out of place and in place, at lengths that leave a tail.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn f16c_kernel_matches_generic_on_every_f16() {
        let Some(cpu) = F16c::detect() else {
            return;
        };
        let every: Vec<f16> = (0..=u16::MAX).map(f16::from_bits).collect();
        for alpha in [0.01f32, -1.0, 0.1, 3.0e-5, -7.5, 65504.0] {
            let a16 = f16::from_f32(alpha);
            let mut want = vec![f16::ZERO; every.len()];
            leaky_relu(Some(&every), &mut want, a16);
            for len in [every.len(), every.len() - 3] {
                let op = LeakyReluF16c {
                    x: Some(&every[..len]),
                    alpha: a16.to_f32(),
                    cpu,
                };
                let mut got = vec![f16::ZERO; len];
                op.apply(0, &mut got);
                let mut in_place = every[..len].to_vec();
                LeakyReluF16c {
                    x: None,
                    alpha: a16.to_f32(),
                    cpu,
                }
                .apply(0, &mut in_place);
                for (i, ((g, p), w)) in got.iter().zip(&in_place).zip(&want).enumerate() {
                    assert_eq!(g.to_bits(), w.to_bits(), "x = {:#06x}, alpha = {alpha}", i);
                    assert_eq!(p.to_bits(), w.to_bits(), "in place, x = {:#06x}", i);
                }
            }
        }
    }

    /// The one-pass F16C gradient kernel gives the generic f16 kernel's bits: every f16 grad
    /// against every f16 x (three pairings) and every pair of special values, for α that round,
    /// underflow, overflow, are ±0 or NaN; out of place, in place on either input, with a tail.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn f16c_grad_kernel_matches_generic() {
        let Some(cpu) = F16c::detect() else {
            return;
        };
        let special: [u16; 15] = [
            0x0000, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0xfe00, 0x7c01, 0xfd00, 0x0001, 0x8001, 0x03ff,
            0x3c00, 0xbc00, 0x7bff, 0xfbff,
        ];
        let (mut g, mut x) = (Vec::new(), Vec::new());
        for shift in [0u32, 12345, 40000] {
            for i in 0..=u16::MAX as u32 {
                g.push(f16::from_bits(i as u16));
                x.push(f16::from_bits(
                    (i.wrapping_mul(40503).wrapping_add(shift)) as u16,
                ));
            }
        }
        for a in special {
            for b in special {
                g.push(f16::from_bits(a));
                x.push(f16::from_bits(b));
            }
        }
        let alphas = [0.25f32, 0.0, -0.0, -1.0, 3.0e-5, 65504.0, f32::NAN].map(f16::from_f32);
        for len in [g.len(), g.len() - 5] {
            let (g, x) = (&g[..len], &x[..len]);
            for &alpha in &alphas {
                let mut want = vec![f16::ZERO; len];
                leaky_relu_grad(Some(g), Some(x), &mut want, alpha);
                let mut got = vec![f16::ZERO; len];
                let op = LeakyReluGradF16c {
                    grad: Some(g),
                    x: Some(x),
                    alpha: alpha.to_f32(),
                    cpu,
                };
                op.apply(0, &mut got);
                let mut on_grad = g.to_vec();
                LeakyReluGradF16c {
                    grad: None,
                    x: Some(x),
                    alpha: alpha.to_f32(),
                    cpu,
                }
                .apply(0, &mut on_grad);
                let mut on_x = x.to_vec();
                LeakyReluGradF16c {
                    grad: Some(g),
                    x: None,
                    alpha: alpha.to_f32(),
                    cpu,
                }
                .apply(0, &mut on_x);
                for i in 0..len {
                    let w = want[i];
                    // with α and grad both NaN, which NaN a product keeps is not fixed
                    let loose = alpha.is_nan() && g[i].is_nan();
                    for (r, how) in [(got[i], "out"), (on_grad[i], "on grad"), (on_x[i], "on x")] {
                        assert!(
                            r.to_bits() == w.to_bits() || (loose && r.is_nan() && w.is_nan()),
                            "{how}: alpha {alpha}, g {:#06x}, x {:#06x}: {:#06x} vs {:#06x}",
                            g[i].to_bits(),
                            x[i].to_bits(),
                            r.to_bits(),
                            w.to_bits()
                        );
                    }
                }
            }
        }
    }

    /// The correctly rounded f16 value of `v` (an exact f64), found independently of
    /// `round_from_f64`: the nearer of the two f16 neighbours, ties to the even one.
    fn nearest_f16(v: f64) -> u16 {
        if v.abs() >= 65520.0 {
            // at or past max + half an ULP: the tie goes to the even infinity
            return if v > 0.0 { 0x7c00 } else { 0xfc00 };
        }
        let h = f16::from_f64(v); // within an ULP: its neighbours bracket v
        let mut best = h.to_bits();
        for c in [h.to_bits().wrapping_sub(1), h.to_bits().wrapping_add(1)] {
            let (cv, bv) = (f16::from_bits(c), f16::from_bits(best));
            if cv.is_nan() {
                continue;
            }
            let (dc, db) = ((cv.to_f64() - v).abs(), (bv.to_f64() - v).abs());
            if dc < db || (dc == db && c & 1 == 0) {
                best = c;
            }
        }
        best
    }

    /// With an f32 α (a scalar α for f16 data), α·x and α·grad are rounded once from the exact
    /// product, for every finite f16: the generic kernels against an independent nearest-value
    /// search, and the F16C kernels bit for bit against the generic ones, in place too.
    #[test]
    fn f16_data_with_f32_alpha_is_correctly_rounded() {
        let every: Vec<f16> = (0..=u16::MAX).map(f16::from_bits).collect();
        // 3e-45 and 2e-40: products below f32's subnormals, which keep their sign (−0 for x < 0)
        for alpha in [
            0.01f32, 0.2, -0.7, 1.0e-3, 3.3e-7, -65000.0, 3.0e-45, -2.0e-40,
        ] {
            let mut fwd = vec![f16::ZERO; every.len()];
            leaky_relu(Some(&every), &mut fwd, alpha);
            let mut bwd = vec![f16::ZERO; every.len()];
            leaky_relu_grad(
                Some(&every),
                Some(&every.iter().map(|v| -*v).collect::<Vec<_>>()),
                &mut bwd,
                alpha,
            );
            for (i, x) in every.iter().enumerate() {
                let v = x.to_f64();
                if !v.is_finite() || v == 0.0 {
                    continue;
                }
                let want = nearest_f16(v * alpha as f64);
                if v < 0.0 {
                    assert_eq!(fwd[i].to_bits(), want, "x {v}, alpha {alpha}");
                } else {
                    // the gradient where x = −grad < 0: α·grad
                    assert_eq!(bwd[i].to_bits(), want, "grad {v}, alpha {alpha}");
                }
            }
            // the example: PyTorch and the exact product agree, the f16-rounded α does not
            let x = f16::from_f64(-0.99365234375);
            assert_eq!(leaky_relu_scalar(x, 0.01f32).to_f64(), -0.0099334716796875,);
            #[cfg(target_arch = "x86_64")]
            if let Some(cpu) = F16c::detect() {
                let mut got = vec![f16::ZERO; every.len() - 3];
                LeakyReluF16c {
                    x: Some(&every[..got.len()]),
                    alpha,
                    cpu,
                }
                .apply(0, &mut got);
                let mut in_place = every[..got.len()].to_vec();
                LeakyReluF16c {
                    x: None,
                    alpha,
                    cpu,
                }
                .apply(0, &mut in_place);
                let mut grad = vec![f16::ZERO; every.len()];
                let neg: Vec<f16> = every.iter().map(|v| -*v).collect();
                LeakyReluGradF16c {
                    grad: Some(&every),
                    x: Some(&neg),
                    alpha,
                    cpu,
                }
                .apply(0, &mut grad);
                for i in 0..got.len() {
                    assert_eq!(
                        got[i].to_bits(),
                        fwd[i].to_bits(),
                        "x {:#06x}, alpha {alpha}",
                        i
                    );
                    assert_eq!(
                        in_place[i].to_bits(),
                        fwd[i].to_bits(),
                        "in place, x {:#06x}",
                        i
                    );
                }
                for i in 0..every.len() {
                    let (g, w) = (grad[i], bwd[i]);
                    assert!(
                        g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()),
                        "grad {:#06x}, alpha {alpha}: {:#06x} vs {:#06x}",
                        i,
                        g.to_bits(),
                        w.to_bits()
                    );
                }
            }
        }
    }

    #[test]
    fn leaky_forward_rules() {
        let x = [-2.0f64, -0.0, 0.0, 3.0, f64::NEG_INFINITY];
        let mut out = [0.0; 5];
        leaky_relu(Some(&x), &mut out, 0.1);
        assert_eq!(out, [-0.2, 0.0, 0.0, 3.0, f64::NEG_INFINITY]);
        assert!(out[1].is_sign_positive());
        leaky_relu(Some(&x), &mut out, -1.0);
        assert_eq!(out, [2.0, 0.0, 0.0, 3.0, f64::INFINITY]);
        leaky_relu(Some(&x), &mut out, 0.0);
        assert_eq!(out, [0.0, 0.0, 0.0, 3.0, 0.0]);
        let mut nan = [f64::NAN];
        leaky_relu(None, &mut nan, 0.5);
        assert!(nan[0].is_nan());
    }

    #[test]
    fn leaky_grad_rules() {
        let g = [2.0f32, 2.0, 2.0, f32::INFINITY, 1.0];
        let x = [1.0f32, 0.0, -1.0, -1.0, f32::NAN];
        let mut out = [0.0f32; 5];
        leaky_relu_grad(Some(&g), Some(&x), &mut out, 0.25);
        assert_eq!(&out[..4], &[2.0, 0.5, 0.5, f32::INFINITY]);
        assert!(out[4].is_nan());
        leaky_relu_grad(Some(&g), Some(&x), &mut out, 0.0);
        assert_eq!(&out[..4], &[2.0, 0.0, 0.0, 0.0]);
    }
}
