//! bfloat16 leaky ReLU, its gradient and PReLU (forward channel-innermost, backward's inner
//! loops) with AVX2 and AVX-512, one pass over the raw bits.
//!
//! A bf16 is the upper half of an f32, so a vector of bf16 bits splits into its even elements as
//! f32 (the 32-bit lanes shifted left by 16) and its odd ones (the lanes with the low half
//! cleared), and the two results join again by one word blend: no shuffles. leaky_relu's α·v
//! (f32 α) is rounded to odd in f32 (the exact product, ≤ 32 significant bits, truncated toward
//! zero, its last bit set where it was inexact), and that to bf16 to nearest even on the bits:
//! the correct rounding of the exact product, as [`crate::kernels::leaky_relu::Scale`] gives.
//! PReLU's α is bf16, so its f32 product needs no such care ([`products_32`]).

use crate::kernels::leaky_relu::{leaky_relu_grad_scalar, leaky_relu_scalar};
use crate::kernels::prelu::{grad_innermost_plain, grad_run_lanes_from, PLAIN_LANES};
use half::bf16;
use std::arch::x86_64::*;

/// bf16 bits as i16: −∞ (as for f16 in `leaky_relu_f16c`: +0, x > 0 and every NaN are above
/// it, −0 and x < 0 at or below), −0, the magnitude mask, +∞ and the canonical NaN.
const NEGATIVE_INFINITY: i16 = 0xff80u16 as i16;
const MINUS_ZERO: i16 = 0x8000u16 as i16;
const MAGNITUDE: i16 = 0x7fff;
const INFINITY: i16 = 0x7f80;
const CANONICAL_NAN: i16 = 0x7fc0;
/// Rounding to nearest even on f32 bits: + 0x7fff + the kept part's last bit, keep the top half.
const HALF_MINUS_ONE: i32 = 0x7fff;

/// α·v for 16 f32 lanes (v widened from bf16, α finite) rounded once to bf16, in the upper
/// half of each lane (the lower half is left over). Toward zero and its last bit set where the
/// product rounded up and down differ: round to odd, exact even for subnormal products, whose
/// FMA error could underflow.
#[inline(always)]
unsafe fn product_bf16_512(v: __m512, alpha: __m512) -> __m512i {
    const EXACT: i32 = _MM_FROUND_NO_EXC;
    let toward_zero = _mm512_mul_round_ps::<{ _MM_FROUND_TO_ZERO | EXACT }>(v, alpha);
    let up = _mm512_mul_round_ps::<{ _MM_FROUND_TO_POS_INF | EXACT }>(v, alpha);
    let down = _mm512_mul_round_ps::<{ _MM_FROUND_TO_NEG_INF | EXACT }>(v, alpha);
    let inexact = _mm512_cmp_ps_mask::<_CMP_NEQ_OQ>(up, down);
    let one = _mm512_set1_epi32(1);
    let bits = _mm512_castps_si512(toward_zero);
    nearest_even_512(_mm512_mask_or_epi32(bits, inexact, bits, one))
}

/// 16 f32 lanes' bits rounded to bf16 (nearest even) in their upper halves: + 0x7fff + the kept
/// part's last bit. Overflow carries into the exponent and gives ±∞; a NaN may not survive.
#[inline(always)]
unsafe fn nearest_even_512(bits: __m512i) -> __m512i {
    let last = _mm512_and_si512(_mm512_srli_epi32::<16>(bits), _mm512_set1_epi32(1));
    _mm512_add_epi32(
        bits,
        _mm512_add_epi32(_mm512_set1_epi32(HALF_MINUS_ONE), last),
    )
}

/// α·v rounded once to bf16 for the 32 bf16 elements whose bits are `h`.
#[inline(always)]
unsafe fn scaled_32(h: __m512i, alpha: __m512) -> __m512i {
    let even = _mm512_castsi512_ps(_mm512_slli_epi32::<16>(h));
    let odd = _mm512_castsi512_ps(_mm512_and_si512(
        h,
        _mm512_set1_epi32(0xffff_0000u32 as i32),
    ));
    let even = _mm512_srli_epi32::<16>(product_bf16_512(even, alpha));
    let odd = product_bf16_512(odd, alpha);
    _mm512_mask_blend_epi16(0xaaaa_aaaa, even, odd)
}

/// The mask of the first `n` (< 32) of 32 elements.
#[inline(always)]
fn first(n: usize) -> __mmask32 {
    (1u32 << n) - 1
}

/// The forward select of 32 bf16 elements: x's bits where x > 0, x = +0 or x is NaN (as i16,
/// above −∞'s bits), +0 where x = −0 (α·(−0) would be ∓0, and a product that underflows keeps
/// its sign) or `zero` is set, else the product `p`.
#[inline(always)]
unsafe fn forward_select_32(h: __m512i, p: __m512i, zero: __mmask32) -> __m512i {
    let keep = _mm512_cmpgt_epi16_mask(h, _mm512_set1_epi16(NEGATIVE_INFINITY));
    let minus_zero = _mm512_cmpeq_epi16_mask(h, _mm512_set1_epi16(MINUS_ZERO));
    _mm512_mask_blend_epi16(keep, _mm512_maskz_mov_epi16(!(minus_zero | zero), p), h)
}

/// [`forward_select_32`] for 16 elements, `zero` a lane mask.
#[inline(always)]
unsafe fn forward_select_16(h: __m256i, p: __m256i, zero: __m256i) -> __m256i {
    let keep = _mm256_cmpgt_epi16(h, _mm256_set1_epi16(NEGATIVE_INFINITY));
    let minus_zero = _mm256_cmpeq_epi16(h, _mm256_set1_epi16(MINUS_ZERO));
    let p = _mm256_andnot_si256(_mm256_or_si256(minus_zero, zero), p);
    _mm256_blendv_epi8(p, h, keep)
}

/// `out = leaky_relu(x; alpha)` for bf16 (`x = None`: in place), α finite and ≠ 0, 32 elements
/// a step and a masked last step: α·x rounded once, then x's bits where x > 0, x = +0 or x is
/// NaN, +0 where x = −0 (α·(−0) would be ∓0, and a product that underflows keeps its sign). The
/// same bits as [`leaky_relu_scalar`] on bf16 with this f32 α.
///
/// # Safety
/// The CPU has AVX-512 F and BW; `x`, when given, has `out.len()` elements.
#[target_feature(enable = "avx512f,avx512bw")]
pub unsafe fn leaky_relu_bf16_avx512(x: Option<&[bf16]>, out: &mut [bf16], alpha: f32) {
    let n = out.len();
    let dst = out.as_mut_ptr().cast::<i16>();
    let src = x.map_or(dst.cast_const(), |x| x.as_ptr().cast::<i16>());
    let a = _mm512_set1_ps(alpha);
    let step = |h: __m512i| forward_select_32(h, scaled_32(h, a), 0);
    let mut i = 0;
    // SAFETY: every access is within the n elements of `x` and `out` (the last step masked);
    // each step reads its elements before it writes them, so in place works.
    unsafe {
        while i + 32 <= n {
            let h = _mm512_loadu_si512(src.add(i).cast());
            _mm512_storeu_si512(dst.add(i).cast(), step(h));
            i += 32;
        }
        if i < n {
            let m = first(n - i);
            let h = _mm512_maskz_loadu_epi16(m, src.add(i));
            _mm512_mask_storeu_epi16(dst.add(i), m, step(h));
        }
    }
}

/// `out = leaky_relu_grad(grad, x; alpha)` for bf16 (`None`: that input is `out`), α finite, 32
/// elements a step and a masked last step: `grad` where x > 0, `x` where x is NaN, else α·grad
/// rounded once (the canonical NaN for a NaN grad; 0 for α = 0). The same bits as
/// [`leaky_relu_grad_scalar`] on bf16 with this f32 α.
///
/// # Safety
/// The CPU has AVX-512 F and BW; `grad` and `x`, when given, have `out.len()` elements.
#[target_feature(enable = "avx512f,avx512bw")]
pub unsafe fn leaky_relu_grad_bf16_avx512(
    grad: Option<&[bf16]>,
    x: Option<&[bf16]>,
    out: &mut [bf16],
    alpha: f32,
) {
    let n = out.len();
    let dst = out.as_mut_ptr().cast::<i16>();
    let gp = grad.map_or(dst.cast_const(), |g| g.as_ptr().cast::<i16>());
    let xp = x.map_or(dst.cast_const(), |x| x.as_ptr().cast::<i16>());
    let a = _mm512_set1_ps(alpha);
    let alpha_is_zero = alpha == 0.0;
    let is_nan = |v: __m512i| {
        let magnitude = _mm512_and_si512(v, _mm512_set1_epi16(MAGNITUDE));
        _mm512_cmpgt_epi16_mask(magnitude, _mm512_set1_epi16(INFINITY))
    };
    let step = |g: __m512i, x: __m512i| {
        let scaled = if alpha_is_zero {
            _mm512_setzero_si512()
        } else {
            _mm512_mask_blend_epi16(is_nan(g), scaled_32(g, a), _mm512_set1_epi16(CANONICAL_NAN))
        };
        // x > 0 as i16 (+∞ and positive NaNs too: the NaN select comes last)
        let positive = _mm512_cmpgt_epi16_mask(x, _mm512_setzero_si512());
        let r = _mm512_mask_blend_epi16(positive, scaled, g);
        _mm512_mask_blend_epi16(is_nan(x), r, x)
    };
    let mut i = 0;
    // SAFETY: as in `leaky_relu_bf16_avx512`, for both inputs.
    unsafe {
        while i + 32 <= n {
            let g = _mm512_loadu_si512(gp.add(i).cast());
            let x = _mm512_loadu_si512(xp.add(i).cast());
            _mm512_storeu_si512(dst.add(i).cast(), step(g, x));
            i += 32;
        }
        if i < n {
            let m = first(n - i);
            let g = _mm512_maskz_loadu_epi16(m, gp.add(i));
            let x = _mm512_maskz_loadu_epi16(m, xp.add(i));
            _mm512_mask_storeu_epi16(dst.add(i), m, step(g, x));
        }
    }
}

/// α·v for 8 f32 lanes rounded once to bf16, in the upper half of each lane: the product rounded
/// to odd by its FMA error (exact where |α·v| ≥ 2^−118; see [`SmallProducts`]), then to nearest
/// even on the bits.
#[inline(always)]
unsafe fn product_bf16_256(v: __m256, alpha: __m256) -> __m256i {
    let odd = _mm256_castps_si256(super::f16c::leaky_relu::mul_round_to_odd(alpha, v));
    nearest_even_256(odd)
}

/// [`nearest_even_512`] for 8 lanes.
#[inline(always)]
unsafe fn nearest_even_256(bits: __m256i) -> __m256i {
    let last = _mm256_and_si256(_mm256_srli_epi32::<16>(bits), _mm256_set1_epi32(1));
    _mm256_add_epi32(
        bits,
        _mm256_add_epi32(_mm256_set1_epi32(HALF_MINUS_ONE), last),
    )
}

/// α·v rounded once to bf16 for the 16 bf16 elements whose bits are `h`, where no |α·v| is below
/// 2^−118 (the caller checks with [`SmallProducts`]).
#[inline(always)]
unsafe fn scaled_16(h: __m256i, alpha: __m256) -> __m256i {
    let even = _mm256_castsi256_ps(_mm256_slli_epi32::<16>(h));
    let odd = _mm256_castsi256_ps(_mm256_and_si256(
        h,
        _mm256_set1_epi32(0xffff_0000u32 as i32),
    ));
    let even = _mm256_srli_epi32::<16>(product_bf16_256(even, alpha));
    let odd = product_bf16_256(odd, alpha);
    _mm256_blend_epi16::<0xaa>(even, odd)
}

/// Which bf16 values v may give a product |α·v| below 2^−118, where the FMA error of the f32
/// product can underflow (it is a multiple of 2^(e−31) for a product in [2^e, 2^(e+1))): those
/// with 0 < |v| below a bound from α, taken one bf16 step high. The AVX2 kernels hand a group
/// that has one to the generic code.
#[derive(Clone, Copy)]
struct SmallProducts {
    below: i16,
}

impl SmallProducts {
    fn new(alpha: f32) -> SmallProducts {
        // 2^−117 / |α| (a factor 2 of margin over 2^−118 for this division's rounding)
        let bound = (2f64.powi(-117) / alpha.abs() as f64) as f32;
        let below = ((bound.to_bits() >> 16) + 1).min(INFINITY as u32) as i16;
        SmallProducts { below }
    }

    /// Whether any of the 16 bf16 elements `h` is one.
    #[inline(always)]
    unsafe fn any(self, h: __m256i) -> bool {
        let magnitude = _mm256_and_si256(h, _mm256_set1_epi16(MAGNITUDE));
        let small = _mm256_and_si256(
            _mm256_cmpgt_epi16(_mm256_set1_epi16(self.below), magnitude),
            _mm256_cmpgt_epi16(magnitude, _mm256_setzero_si256()),
        );
        _mm256_testz_si256(small, small) == 0
    }
}

/// [`leaky_relu_bf16_avx512`] with AVX2, 16 elements a step; a step with a product below 2^−118
/// (see [`SmallProducts`]) and the last few elements take the generic code. The same bits.
///
/// # Safety
/// The CPU has AVX2 and FMA; `x`, when given, has `out.len()` elements.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn leaky_relu_bf16_avx2(x: Option<&[bf16]>, out: &mut [bf16], alpha: f32) {
    let n = out.len();
    let dst = out.as_mut_ptr();
    let src = x.map_or(dst.cast_const(), <[bf16]>::as_ptr);
    let a = _mm256_set1_ps(alpha);
    let small = SmallProducts::new(alpha);
    let full = n / 16 * 16;
    let mut i = 0;
    // SAFETY: i + 16 <= n elements of `out` and of `x`, then i < n; each step reads its elements
    // before it writes them, so in place works.
    unsafe {
        while i < full {
            let h = _mm256_loadu_si256(src.add(i).cast());
            if small.any(h) {
                for j in i..i + 16 {
                    *dst.add(j) = leaky_relu_scalar(*src.add(j), alpha);
                }
            } else {
                let r = forward_select_16(h, scaled_16(h, a), _mm256_setzero_si256());
                _mm256_storeu_si256(dst.add(i).cast(), r);
            }
            i += 16;
        }
        for j in full..n {
            *dst.add(j) = leaky_relu_scalar(*src.add(j), alpha);
        }
    }
}

/// [`leaky_relu_grad_bf16_avx512`] with AVX2, 16 elements a step; a step with a product below
/// 2^−118 and the last few elements take the generic code. The same bits.
///
/// # Safety
/// The CPU has AVX2 and FMA; `grad` and `x`, when given, have `out.len()` elements.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn leaky_relu_grad_bf16_avx2(
    grad: Option<&[bf16]>,
    x: Option<&[bf16]>,
    out: &mut [bf16],
    alpha: f32,
) {
    let n = out.len();
    let dst = out.as_mut_ptr();
    let gp = grad.map_or(dst.cast_const(), <[bf16]>::as_ptr);
    let xp = x.map_or(dst.cast_const(), <[bf16]>::as_ptr);
    let a = _mm256_set1_ps(alpha);
    let alpha_is_zero = alpha == 0.0;
    let small = SmallProducts::new(alpha);
    let is_nan = |v: __m256i| {
        let magnitude = _mm256_and_si256(v, _mm256_set1_epi16(MAGNITUDE));
        _mm256_cmpgt_epi16(magnitude, _mm256_set1_epi16(INFINITY))
    };
    let full = n / 16 * 16;
    let mut i = 0;
    // SAFETY: as in `leaky_relu_bf16_avx2`, for both inputs.
    unsafe {
        while i < full {
            let g = _mm256_loadu_si256(gp.add(i).cast());
            let x = _mm256_loadu_si256(xp.add(i).cast());
            if !alpha_is_zero && small.any(g) {
                for j in i..i + 16 {
                    *dst.add(j) = leaky_relu_grad_scalar(*gp.add(j), *xp.add(j), alpha);
                }
            } else {
                let scaled = if alpha_is_zero {
                    _mm256_setzero_si256()
                } else {
                    let canonical = _mm256_set1_epi16(CANONICAL_NAN);
                    _mm256_blendv_epi8(scaled_16(g, a), canonical, is_nan(g))
                };
                // x > 0 as i16 (+∞ and positive NaNs too: the NaN select comes last)
                let positive = _mm256_cmpgt_epi16(x, _mm256_setzero_si256());
                let r = _mm256_blendv_epi8(scaled, g, positive);
                _mm256_storeu_si256(dst.add(i).cast(), _mm256_blendv_epi8(r, x, is_nan(x)));
            }
            i += 16;
        }
        for j in full..n {
            *dst.add(j) = leaky_relu_grad_scalar(*gp.add(j), *xp.add(j), alpha);
        }
    }
}

/// x·α for 32 bf16 pairs (bits `x`, `alpha`), rounded once to bf16: the f32 product of two bf16
/// values (16 significant bits) is exact where it is at least 2^−134, and below that it rounds to
/// the same bf16 (0, or the midpoint 2^−134, a tie to 0), so nearest-rounding twice is exact.
#[inline(always)]
unsafe fn products_32(x: __m512i, alpha: __m512i) -> __m512i {
    let high = _mm512_set1_epi32(0xffff_0000u32 as i32);
    let even = _mm512_mul_ps(
        _mm512_castsi512_ps(_mm512_slli_epi32::<16>(x)),
        _mm512_castsi512_ps(_mm512_slli_epi32::<16>(alpha)),
    );
    let odd = _mm512_mul_ps(
        _mm512_castsi512_ps(_mm512_and_si512(x, high)),
        _mm512_castsi512_ps(_mm512_and_si512(alpha, high)),
    );
    let even = _mm512_srli_epi32::<16>(nearest_even_512(_mm512_castps_si512(even)));
    let odd = nearest_even_512(_mm512_castps_si512(odd));
    _mm512_mask_blend_epi16(0xaaaa_aaaa, even, odd)
}

/// Forward PReLU, channel-innermost (inner = 1), on the piece of the flat array that starts at
/// flat index `start`: `out[i] = leaky_relu(x[i]; alpha[(start + i) % channels])` for bf16 (`x =
/// None`: in place), 32 elements a step along each row and a masked last step: α·x rounded once
/// (the canonical NaN for a NaN α), +0 where x = −0 or α = ±0, x's bits where x > 0, x = +0 or x
/// is NaN. The same bits as [`leaky_relu_scalar`] on bf16.
///
/// # Safety
/// The CPU has AVX-512 F and BW; `x`, when given, has `out.len()` elements.
#[target_feature(enable = "avx512f,avx512bw")]
pub unsafe fn prelu_innermost_bf16_avx512(
    x: Option<&[bf16]>,
    out: &mut [bf16],
    alpha: &[bf16],
    start: usize,
) {
    let (n, channels) = (out.len(), alpha.len());
    let dst = out.as_mut_ptr().cast::<i16>();
    let src = x.map_or(dst.cast_const(), |x| x.as_ptr().cast::<i16>());
    let ap = alpha.as_ptr().cast::<i16>();
    let step = |h: __m512i, a: __m512i| {
        let magnitude = _mm512_set1_epi16(MAGNITUDE);
        let a_nan =
            _mm512_cmpgt_epi16_mask(_mm512_and_si512(a, magnitude), _mm512_set1_epi16(INFINITY));
        let a_zero = !_mm512_test_epi16_mask(a, magnitude);
        let p = _mm512_mask_blend_epi16(a_nan, products_32(h, a), _mm512_set1_epi16(CANONICAL_NAN));
        forward_select_32(h, p, a_zero)
    };
    let (mut i, mut ch) = (0, start % channels);
    // SAFETY: i + j + 32 <= n elements of `out` (and `x`) and ch + j + 32 <= channels of `alpha`,
    // or the step is masked to what is left of both; each step reads its elements before it
    // writes them, so in place works.
    unsafe {
        while i < n {
            let run = (n - i).min(channels - ch);
            let mut j = 0;
            while j + 32 <= run {
                let h = _mm512_loadu_si512(src.add(i + j).cast());
                let a = _mm512_loadu_si512(ap.add(ch + j).cast());
                _mm512_storeu_si512(dst.add(i + j).cast(), step(h, a));
                j += 32;
            }
            if j < run {
                let m = first(run - j);
                let h = _mm512_maskz_loadu_epi16(m, src.add(i + j));
                let a = _mm512_maskz_loadu_epi16(m, ap.add(ch + j));
                _mm512_mask_storeu_epi16(dst.add(i + j), m, step(h, a));
            }
            i += run;
            ch = 0;
        }
    }
}

/// [`products_32`] for 16 pairs.
#[inline(always)]
unsafe fn products_16(x: __m256i, alpha: __m256i) -> __m256i {
    let high = _mm256_set1_epi32(0xffff_0000u32 as i32);
    let even = _mm256_mul_ps(
        _mm256_castsi256_ps(_mm256_slli_epi32::<16>(x)),
        _mm256_castsi256_ps(_mm256_slli_epi32::<16>(alpha)),
    );
    let odd = _mm256_mul_ps(
        _mm256_castsi256_ps(_mm256_and_si256(x, high)),
        _mm256_castsi256_ps(_mm256_and_si256(alpha, high)),
    );
    let even = _mm256_srli_epi32::<16>(nearest_even_256(_mm256_castps_si256(even)));
    let odd = nearest_even_256(_mm256_castps_si256(odd));
    _mm256_blend_epi16::<0xaa>(even, odd)
}

/// [`prelu_innermost_bf16_avx512`] with AVX2, 16 elements a step along each row; the last few of
/// a row take the generic code. The same bits.
///
/// # Safety
/// The CPU has AVX2; `x`, when given, has `out.len()` elements.
#[target_feature(enable = "avx2")]
pub unsafe fn prelu_innermost_bf16_avx2(
    x: Option<&[bf16]>,
    out: &mut [bf16],
    alpha: &[bf16],
    start: usize,
) {
    let (n, channels) = (out.len(), alpha.len());
    let dst = out.as_mut_ptr();
    let src = x.map_or(dst.cast_const(), <[bf16]>::as_ptr);
    let (mut i, mut ch) = (0, start % channels);
    // SAFETY: i + j + 16 <= n elements of `out` (and `x`) and ch + j + 16 <= channels of `alpha`,
    // then single elements within both; each step reads its elements before it writes them, so
    // in place works.
    unsafe {
        while i < n {
            let run = (n - i).min(channels - ch);
            let full = run / 16 * 16;
            for j in (0..full).step_by(16) {
                let h = _mm256_loadu_si256(src.add(i + j).cast());
                let a = _mm256_loadu_si256(alpha.as_ptr().add(ch + j).cast());
                let magnitude = _mm256_and_si256(a, _mm256_set1_epi16(MAGNITUDE));
                let a_nan = _mm256_cmpgt_epi16(magnitude, _mm256_set1_epi16(INFINITY));
                let a_zero = _mm256_cmpeq_epi16(magnitude, _mm256_setzero_si256());
                let canonical = _mm256_set1_epi16(CANONICAL_NAN);
                let p = _mm256_blendv_epi8(products_16(h, a), canonical, a_nan);
                _mm256_storeu_si256(dst.add(i + j).cast(), forward_select_16(h, p, a_zero));
            }
            for j in full..run {
                *dst.add(i + j) = leaky_relu_scalar(*src.add(i + j), alpha[ch + j]);
            }
            i += run;
            ch = 0;
        }
    }
}

/// The PReLU gradient of 16 bf16 elements (bits `g`, `x`, `alpha`, one α per element): `g` where
/// x > 0, `x` where x is NaN, 0 where α = ±0, else α·g rounded once ([`products_16`]; a NaN
/// product, from a NaN α or grad or 0·∞, the canonical NaN), as [`leaky_relu_grad_scalar`] on bf16.
#[inline(always)]
unsafe fn prelu_grad_16(g: __m256i, x: __m256i, alpha: __m256i) -> __m256i {
    let magnitude = _mm256_set1_epi16(MAGNITUDE);
    let infinity = _mm256_set1_epi16(INFINITY);
    let p = products_16(g, alpha);
    // the product is NaN where an input is, or where one is ±0 and the other ±∞
    let (gm, am) = (
        _mm256_and_si256(g, magnitude),
        _mm256_and_si256(alpha, magnitude),
    );
    let zero = _mm256_setzero_si256();
    let nan = _mm256_or_si256(
        _mm256_or_si256(
            _mm256_cmpgt_epi16(gm, infinity),
            _mm256_cmpgt_epi16(am, infinity),
        ),
        _mm256_or_si256(
            _mm256_and_si256(
                _mm256_cmpeq_epi16(gm, zero),
                _mm256_cmpeq_epi16(am, infinity),
            ),
            _mm256_and_si256(
                _mm256_cmpeq_epi16(gm, infinity),
                _mm256_cmpeq_epi16(am, zero),
            ),
        ),
    );
    let p = _mm256_blendv_epi8(p, _mm256_set1_epi16(CANONICAL_NAN), nan);
    let p = _mm256_andnot_si256(_mm256_cmpeq_epi16(am, zero), p);
    // x > 0 as i16 (+∞ and positive NaNs too: the NaN select comes last)
    let r = _mm256_blendv_epi8(p, g, _mm256_cmpgt_epi16(x, zero));
    _mm256_blendv_epi8(
        r,
        x,
        _mm256_cmpgt_epi16(_mm256_and_si256(x, magnitude), infinity),
    )
}

/// The α-gradient terms grad·min(0, x) of 16 bf16 elements as four f64 vectors of four, in
/// element order: the product in f64 (16 significant bits: exact, where f32 could underflow), 0
/// where x ≥ 0 (±0 too, even for an infinite grad), NaN where x is NaN.
#[inline(always)]
unsafe fn prelu_terms_16(g: __m256i, x: __m256i) -> [__m256d; 4] {
    // bf16 → f32 by interleaving with zero words: elements 0-3 and 8-11, then 4-7 and 12-15
    let zero = _mm256_setzero_si256();
    let widened = [
        (
            _mm256_unpacklo_epi16(zero, g),
            _mm256_unpacklo_epi16(zero, x),
        ),
        (
            _mm256_unpackhi_epi16(zero, g),
            _mm256_unpackhi_epi16(zero, x),
        ),
    ];
    let mut terms = [_mm256_setzero_pd(); 4];
    for (k, (g, x)) in widened.into_iter().enumerate() {
        let (g, x) = (_mm256_castsi256_ps(g), _mm256_castsi256_ps(x));
        let nonnegative = _mm256_cmp_ps::<_CMP_GE_OQ>(x, _mm256_setzero_ps());
        let (g, x) = (
            _mm256_andnot_ps(nonnegative, g),
            _mm256_andnot_ps(nonnegative, x),
        );
        let product = |g: __m128, x: __m128| _mm256_mul_pd(_mm256_cvtps_pd(g), _mm256_cvtps_pd(x));
        terms[k] = product(_mm256_castps256_ps128(g), _mm256_castps256_ps128(x));
        terms[k + 2] = product(_mm256_extractf128_ps::<1>(g), _mm256_extractf128_ps::<1>(x));
    }
    terms
}

/// [`crate::kernels::prelu::PreluGradElement::grad_run_lanes`] for bf16 with AVX2: per 16
/// elements, the gradient on the bits ([`prelu_grad_16`]) and the terms in f64
/// ([`prelu_terms_16`]) added to the 16 lanes in element order, so the sums are bit for bit the
/// generic loop's.
///
/// # Safety
/// The CPU has AVX2.
#[target_feature(enable = "avx2")]
pub unsafe fn grad_run_lanes_bf16_avx2(
    g: &[bf16],
    x: &[bf16],
    out: &mut [bf16],
    alpha: bf16,
    lanes: &mut [f64; PLAIN_LANES],
) {
    let n = out.len();
    let (g, x) = (&g[..n], &x[..n]);
    let a = _mm256_set1_epi16(alpha.to_bits() as i16);
    let full = n - n % PLAIN_LANES;
    let lp = lanes.as_mut_ptr();
    // SAFETY: lanes has 16 = 4 × 4 f64; i + 16 <= full <= n elements of g, x and out.
    unsafe {
        let mut acc = [0, 4, 8, 12].map(|l| _mm256_loadu_pd(lp.add(l)));
        for i in (0..full).step_by(PLAIN_LANES) {
            let gh = _mm256_loadu_si256(g.as_ptr().add(i).cast());
            let xh = _mm256_loadu_si256(x.as_ptr().add(i).cast());
            _mm256_storeu_si256(out.as_mut_ptr().add(i).cast(), prelu_grad_16(gh, xh, a));
            for (acc, t) in acc.iter_mut().zip(prelu_terms_16(gh, xh)) {
                *acc = _mm256_add_pd(*acc, t);
            }
        }
        for (k, v) in acc.into_iter().enumerate() {
            _mm256_storeu_pd(lp.add(4 * k), v);
        }
    }
    grad_run_lanes_from(g, x, out, alpha, lanes, full);
}

/// [`crate::kernels::prelu::PreluGradElement::grad_innermost_plain`] for bf16 with AVX2, as
/// [`grad_run_lanes_bf16_avx2`] with one α per element.
///
/// # Safety
/// The CPU has AVX2.
#[target_feature(enable = "avx2")]
pub unsafe fn grad_innermost_plain_bf16_avx2(
    g: &[bf16],
    x: &[bf16],
    out: &mut [bf16],
    alpha: &[bf16],
    plain: &mut [f64],
) {
    let n = out.len();
    let (g, x, alpha, plain) = (&g[..n], &x[..n], &alpha[..n], &mut plain[..n]);
    let full = n / 16 * 16;
    for i in (0..full).step_by(16) {
        // SAFETY: i + 16 <= n elements of every slice.
        unsafe {
            let gh = _mm256_loadu_si256(g.as_ptr().add(i).cast());
            let xh = _mm256_loadu_si256(x.as_ptr().add(i).cast());
            let ah = _mm256_loadu_si256(alpha.as_ptr().add(i).cast());
            _mm256_storeu_si256(out.as_mut_ptr().add(i).cast(), prelu_grad_16(gh, xh, ah));
            let pp = plain.as_mut_ptr().add(i);
            for (k, t) in prelu_terms_16(gh, xh).into_iter().enumerate() {
                _mm256_storeu_pd(
                    pp.add(4 * k),
                    _mm256_add_pd(_mm256_loadu_pd(pp.add(4 * k)), t),
                );
            }
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
