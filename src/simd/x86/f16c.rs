//! The one-pass float16 kernels with F16C (and AVX2/FMA): conversions, leaky ReLU forward and
//! gradient, PReLU forward (channel-innermost) and backward inner loops. Every function is an
//! `unsafe fn` with `#[target_feature]`; the kernels call them only while holding an
//! [`F16c`](crate::simd::F16c) token, which proves the CPU has the features.

/// f16 ⇄ f32 conversions of whole slices.
pub mod convert {
    use crate::element::{f16_to_f32, f32_to_f16};
    use half::f16;
    use std::arch::x86_64::{
        __m128i, _mm256_cvtph_ps, _mm256_cvtps_ph, _mm256_loadu_ps, _mm256_storeu_ps,
        _mm_loadu_si128, _mm_storeu_si128, _MM_FROUND_TO_NEAREST_INT,
    };

    /// # Safety
    /// The CPU has F16C and AVX.
    #[target_feature(enable = "avx,f16c")]
    pub unsafe fn widen_f16c(src: &[f16], dst: &mut [f32]) {
        let n = src.len().min(dst.len());
        let mut i = 0;
        while i + 8 <= n {
            // SAFETY: i + 8 ≤ n elements of both slices.
            unsafe {
                let h = _mm_loadu_si128(src.as_ptr().add(i).cast::<__m128i>());
                _mm256_storeu_ps(dst.as_mut_ptr().add(i), _mm256_cvtph_ps(h));
            }
            i += 8;
        }
        for j in i..n {
            dst[j] = f16_to_f32(src[j].to_bits());
        }
    }

    /// # Safety
    /// The CPU has F16C and AVX.
    #[target_feature(enable = "avx,f16c")]
    pub unsafe fn narrow_f16c(src: &[f32], dst: &mut [f16]) {
        let n = src.len().min(dst.len());
        let mut i = 0;
        while i + 8 <= n {
            // SAFETY: i + 8 ≤ n elements of both slices.
            unsafe {
                let v = _mm256_loadu_ps(src.as_ptr().add(i));
                let h = _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(v);
                _mm_storeu_si128(dst.as_mut_ptr().add(i).cast::<__m128i>(), h);
            }
            i += 8;
        }
        for j in i..n {
            dst[j] = f16::from_bits(f32_to_f16(src[j]));
        }
    }
}

/// Leaky ReLU on f16, and the 8-lane helpers the PReLU kernels share.
pub mod leaky_relu {
    use crate::kernels::leaky_relu::{leaky_relu_grad_scalar, leaky_relu_scalar};
    use half::f16;
    use std::arch::x86_64::{
        __m128i, __m256, __m256i, __m512, _mm256_add_epi32, _mm256_blendv_ps, _mm256_castps_si256,
        _mm256_castsi256_ps, _mm256_cmp_ps, _mm256_cvtph_ps, _mm256_cvtps_ph, _mm256_fmsub_ps,
        _mm256_mul_ps, _mm256_or_si256, _mm256_set1_epi32, _mm256_set1_ps, _mm256_setzero_ps,
        _mm256_srai_epi32, _mm256_xor_si256, _mm_and_si128, _mm_andnot_si128, _mm_blendv_epi8,
        _mm_cmpeq_epi16, _mm_cmpgt_epi16, _mm_loadu_si128, _mm_set1_epi16, _mm_setzero_si128,
        _mm_storeu_si128, _CMP_NEQ_OQ, _MM_FROUND_TO_NEAREST_INT,
    };

    /// α·g for 8 lanes, rounded once to f16 (the product of two f16 values is exact in f32). A
    /// NaN product becomes the canonical NaN (0x7e00), as [`crate::element::Float::mul`] gives.
    #[inline(always)]
    pub(in crate::simd::x86) unsafe fn scaled(alpha: __m256, g: __m256) -> __m128i {
        narrowed(_mm256_mul_ps(alpha, g))
    }

    /// 8 f32 lanes rounded to f16 (nearest even), a NaN as the canonical NaN (0x7e00).
    #[inline(always)]
    unsafe fn narrowed(p: __m256) -> __m128i {
        let p = _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(p);
        let nan = _mm_cmpgt_epi16(
            _mm_and_si128(p, _mm_set1_epi16(0x7fff)),
            _mm_set1_epi16(0x7c00),
        );
        _mm_blendv_epi8(p, _mm_set1_epi16(0x7e00), nan)
    }

    /// α·v for 8 lanes (v widened from f16, α any f32) rounded to odd in f32: the exact product
    /// (≤ 35 significant bits) truncated toward zero, its last bit set where it was inexact. With
    /// 13 bits to spare, the rounding to f16 that follows is then the correct rounding of the
    /// exact product (nearest-rounding twice is not). Exact products pass unchanged; a NaN or
    /// infinite product too (its error is NaN, which compares unequal-unordered).
    #[inline(always)]
    pub(in crate::simd::x86) unsafe fn mul_round_to_odd(alpha: __m256, v: __m256) -> __m256 {
        let p = _mm256_mul_ps(alpha, v);
        let err = _mm256_fmsub_ps(alpha, v, p); // exact: α·v − p
        let inexact = _mm256_cmp_ps::<_CMP_NEQ_OQ>(err, _mm256_setzero_ps());
        let (pb, eb) = (_mm256_castps_si256(p), _mm256_castps_si256(err));
        // |p| > |α·v| where the error has the other sign: truncating steps one ULP toward zero
        // (p is then nonzero, so this never wraps)
        let toward_zero = _mm256_add_epi32(pb, _mm256_srai_epi32::<31>(_mm256_xor_si256(pb, eb)));
        let odd = _mm256_or_si256(toward_zero, _mm256_set1_epi32(1));
        _mm256_blendv_ps(p, _mm256_castsi256_ps(odd), inexact)
    }

    /// The gradient of 8 elements from their bits: `g` where x > 0, `x` where x is NaN, else
    /// `scaled` (already 0 where α is 0).
    #[inline(always)]
    pub(in crate::simd::x86) unsafe fn select(g: __m128i, x: __m128i, scaled: __m128i) -> __m128i {
        // as i16, x > 0 (+inf and positive NaNs too: the NaN select comes last) is positive
        let positive = _mm_cmpgt_epi16(x, _mm_setzero_si128());
        let nan = _mm_cmpgt_epi16(
            _mm_and_si128(x, _mm_set1_epi16(0x7fff)),
            _mm_set1_epi16(0x7c00),
        );
        _mm_blendv_epi8(_mm_blendv_epi8(scaled, g, positive), x, nan)
    }

    /// `out = leaky_relu_grad(grad, x; alpha)` for f16 (`None`: that input is `out`); see
    /// [`crate::kernels::leaky_relu::LeakyReluGradF16c`].
    ///
    /// # Safety
    /// The CPU has AVX2 and F16C; `grad` and `x`, when given, have `out.len()` elements.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn leaky_relu_grad_f16c(
        grad: Option<&[f16]>,
        x: Option<&[f16]>,
        out: &mut [f16],
        alpha: f32,
    ) {
        let n = out.len();
        let dst = out.as_mut_ptr();
        let gp = grad.map_or(dst.cast_const(), <[f16]>::as_ptr);
        let xp = x.map_or(dst.cast_const(), <[f16]>::as_ptr);
        let a = _mm256_set1_ps(alpha);
        let alpha_is_zero = alpha == 0.0;
        let full = n / 8 * 8;
        for i in (0..full).step_by(8) {
            // SAFETY: i + 8 <= n elements of every array; each group is read before it is
            // written, so in place works.
            unsafe {
                let gh = _mm_loadu_si128(gp.add(i).cast::<__m128i>());
                let xh = _mm_loadu_si128(xp.add(i).cast::<__m128i>());
                let p = if alpha_is_zero {
                    _mm_setzero_si128()
                } else {
                    narrowed(mul_round_to_odd(a, _mm256_cvtph_ps(gh)))
                };
                _mm_storeu_si128(dst.add(i).cast::<__m128i>(), select(gh, xh, p));
            }
        }
        for i in full..n {
            // SAFETY: i < n, as above.
            unsafe { *dst.add(i) = leaky_relu_grad_scalar(*gp.add(i), *xp.add(i), alpha) };
        }
    }

    /// [`leaky_relu_grad_f16c`] with 512-bit vectors, 16 elements a step: α·grad rounded to odd
    /// as in [`leaky_relu_f16_avx512`], the selects by masks.
    ///
    /// # Safety
    /// The CPU has AVX-512 F, BW and VL, FMA and F16C; `grad` and `x`, when given, have
    /// `out.len()` elements.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
    pub unsafe fn leaky_relu_grad_f16_avx512(
        grad: Option<&[f16]>,
        x: Option<&[f16]>,
        out: &mut [f16],
        alpha: f32,
    ) {
        use std::arch::x86_64::{
            __m256i, _mm256_and_si256, _mm256_cmpgt_epi16_mask, _mm256_loadu_si256,
            _mm256_mask_blend_epi16, _mm256_set1_epi16, _mm256_setzero_si256, _mm256_storeu_si256,
            _mm512_cvtph_ps, _mm512_cvtps_ph, _mm512_fmsub_ps, _mm512_mul_round_ps, _mm512_set1_ps,
            _MM_FROUND_NO_EXC, _MM_FROUND_TO_ZERO,
        };
        let n = out.len();
        let dst = out.as_mut_ptr();
        let gp = grad.map_or(dst.cast_const(), <[f16]>::as_ptr);
        let xp = x.map_or(dst.cast_const(), <[f16]>::as_ptr);
        let a = _mm512_set1_ps(alpha);
        let alpha_is_zero = alpha == 0.0;
        let (magnitude, infinity) = (_mm256_set1_epi16(0x7fff), _mm256_set1_epi16(0x7c00));
        let canonical_nan = _mm256_set1_epi16(0x7e00);
        let full = n / 16 * 16;
        for i in (0..full).step_by(16) {
            // SAFETY: i + 16 <= n elements of every array; each group is read before it is
            // written, so in place works.
            unsafe {
                let gh = _mm256_loadu_si256(gp.add(i).cast::<__m256i>());
                let xh = _mm256_loadu_si256(xp.add(i).cast::<__m256i>());
                let scaled = if alpha_is_zero {
                    _mm256_setzero_si256()
                } else {
                    let v = _mm512_cvtph_ps(gh);
                    // α·grad is finite for finite grad (|α·grad| < 2^33); ∞ and NaN grads give
                    // an ∞ or NaN product whose error is NaN: not marked inexact
                    let p = _mm512_mul_round_ps::<{ _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC }>(v, a);
                    let err = _mm512_fmsub_ps(v, a, p);
                    let h = _mm512_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(round_to_odd_512(p, err));
                    let nan = _mm256_cmpgt_epi16_mask(_mm256_and_si256(h, magnitude), infinity);
                    _mm256_mask_blend_epi16(nan, h, canonical_nan)
                };
                // as in `select`: x > 0 as i16 (+inf and positive NaNs too), NaN x last
                let positive = _mm256_cmpgt_epi16_mask(xh, _mm256_setzero_si256());
                let nan_x = _mm256_cmpgt_epi16_mask(_mm256_and_si256(xh, magnitude), infinity);
                let r = _mm256_mask_blend_epi16(positive, scaled, gh);
                _mm256_storeu_si256(
                    dst.add(i).cast::<__m256i>(),
                    _mm256_mask_blend_epi16(nan_x, r, xh),
                );
            }
        }
        for i in full..n {
            // SAFETY: i < n, as above.
            unsafe { *dst.add(i) = leaky_relu_grad_scalar(*gp.add(i), *xp.add(i), alpha) };
        }
    }

    /// A product rounded toward zero (`toward_zero`, 16 f32 lanes) rounded to odd: its last bit
    /// set where `err`, the product's exact FMA error, is nonzero (a NaN error, of an ∞ or NaN
    /// product, is not).
    #[inline(always)]
    unsafe fn round_to_odd_512(toward_zero: __m512, err: __m512) -> __m512 {
        use std::arch::x86_64::{
            _mm512_castps_si512, _mm512_castsi512_ps, _mm512_cmp_ps_mask, _mm512_mask_or_epi32,
            _mm512_set1_epi32, _mm512_setzero_ps,
        };
        let inexact = _mm512_cmp_ps_mask::<_CMP_NEQ_OQ>(err, _mm512_setzero_ps());
        let bits = _mm512_castps_si512(toward_zero);
        _mm512_castsi512_ps(_mm512_mask_or_epi32(
            bits,
            inexact,
            bits,
            _mm512_set1_epi32(1),
        ))
    }

    /// The forward select of 16 half-precision lanes: x's bits where x > 0, x = +0 or x is NaN
    /// (as i16, above `negative_infinity`'s bits: see [`leaky_relu_f16c`]), +0 where x = −0
    /// (α·(−0) would be ∓0, and a product that underflows keeps its sign), else `product`.
    #[inline(always)]
    unsafe fn leaky_select_16(x: __m256i, product: __m256i, negative_infinity: __m256i) -> __m256i {
        use std::arch::x86_64::{
            _mm256_cmpeq_epi16_mask, _mm256_cmpgt_epi16_mask, _mm256_mask_blend_epi16,
            _mm256_set1_epi16, _mm256_setzero_si256,
        };
        let keep = _mm256_cmpgt_epi16_mask(x, negative_infinity);
        let minus_zero = _mm256_cmpeq_epi16_mask(x, _mm256_set1_epi16(0x8000u16 as i16));
        let r = _mm256_mask_blend_epi16(keep, product, x);
        _mm256_mask_blend_epi16(minus_zero, r, _mm256_setzero_si256())
    }

    /// [`leaky_relu_f16c`] with 512-bit vectors, 16 elements a step: α·x rounded toward zero
    /// (embedded rounding) with its last bit set where the FMA error says it was inexact is the
    /// product rounded to odd in four instructions, and masks do the selects.
    ///
    /// # Safety
    /// The CPU has AVX-512 F, BW and VL, FMA and F16C; `x`, when given, has `out.len()`
    /// elements.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
    pub unsafe fn leaky_relu_f16_avx512(x: Option<&[f16]>, out: &mut [f16], alpha: f32) {
        use std::arch::x86_64::{
            __m256i, _mm256_loadu_si256, _mm256_set1_epi16, _mm256_storeu_si256, _mm512_cvtph_ps,
            _mm512_cvtps_ph, _mm512_fmsub_ps, _mm512_mul_round_ps, _mm512_set1_ps,
            _MM_FROUND_NO_EXC, _MM_FROUND_TO_ZERO,
        };
        let n = out.len();
        let dst = out.as_mut_ptr();
        let src = x.map_or(dst.cast_const(), <[f16]>::as_ptr);
        let a = _mm512_set1_ps(alpha);
        let negative_infinity = _mm256_set1_epi16(0xfc00u16 as i16); // as in leaky_relu_f16c
        let full = n / 16 * 16;
        for i in (0..full).step_by(16) {
            // SAFETY: i + 16 <= n elements of `out` and of `x`; each group is read before it is
            // written, so in place works.
            unsafe {
                let h = _mm256_loadu_si256(src.add(i).cast::<__m256i>());
                let v = _mm512_cvtph_ps(h);
                // |α·x| < 2^33: no overflow, so rounding toward zero never saturates
                let p = _mm512_mul_round_ps::<{ _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC }>(v, a);
                let err = _mm512_fmsub_ps(v, a, p); // exact
                let p = _mm512_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(round_to_odd_512(p, err));
                let r = leaky_select_16(h, p, negative_infinity);
                _mm256_storeu_si256(dst.add(i).cast::<__m256i>(), r);
            }
        }
        for i in full..n {
            // SAFETY: i < n, as above.
            unsafe { *dst.add(i) = leaky_relu_scalar(*src.add(i), alpha) };
        }
    }

    /// `out = leaky_relu(x; alpha)` for f16 (`x = None`: in place), α finite and ≠ 0; see
    /// [`crate::kernels::leaky_relu::LeakyReluF16c`].
    ///
    /// # Safety
    /// The CPU has AVX2, FMA and F16C; `x`, when given, has `out.len()` elements.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn leaky_relu_f16c(x: Option<&[f16]>, out: &mut [f16], alpha: f32) {
        let n = out.len();
        let dst = out.as_mut_ptr();
        let src = x.map_or(dst.cast_const(), <[f16]>::as_ptr);
        let a = _mm256_set1_ps(alpha);
        // as i16, the bits of +0, x > 0 and every NaN (negative NaNs are 0xfc01..=0xffff) are
        // above those of −∞ (0xfc00); −0 (0x8000) and x < 0 are at or below
        let negative_infinity = _mm_set1_epi16(0xfc00u16 as i16);
        let minus_zero = _mm_set1_epi16(0x8000u16 as i16);
        let full = n / 8 * 8;
        for i in (0..full).step_by(8) {
            // SAFETY: i + 8 <= n elements of `out` and of `x`; each group is read before it is
            // written, so in place works.
            unsafe {
                let h = _mm_loadu_si128(src.add(i).cast::<__m128i>());
                // α·x rounded to odd, + 0 (turns α·(−0) into +0), then rounded once to f16
                let p = mul_round_to_odd(a, _mm256_cvtph_ps(h));
                let p = _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(p);
                let keep = _mm_cmpgt_epi16(h, negative_infinity);
                // x = −0 gives +0 (α·(−0) would be ∓0; a product that underflows keeps its sign)
                let r = _mm_blendv_epi8(p, h, keep);
                let r = _mm_andnot_si128(_mm_cmpeq_epi16(h, minus_zero), r);
                _mm_storeu_si128(dst.add(i).cast::<__m128i>(), r);
            }
        }
        for i in full..n {
            // SAFETY: i < n, as above.
            unsafe { *dst.add(i) = leaky_relu_scalar(*src.add(i), alpha) };
        }
    }
}

/// PReLU on f16: the forward channel-innermost loop and the backward inner loops.
pub mod prelu {
    use super::leaky_relu::{scaled, select};
    use crate::kernels::leaky_relu::leaky_relu_scalar;
    use crate::kernels::prelu::{grad_innermost_plain, grad_run_lanes_from, PLAIN_LANES};
    use half::f16;
    use std::arch::x86_64::{
        __m128i, __m256, _mm256_add_pd, _mm256_andnot_ps, _mm256_castps256_ps128, _mm256_cmp_ps,
        _mm256_cvtph_ps, _mm256_cvtps_pd, _mm256_extractf128_ps, _mm256_loadu_pd, _mm256_mul_ps,
        _mm256_set1_ps, _mm256_setzero_ps, _mm256_storeu_pd, _mm_and_si128, _mm_andnot_si128,
        _mm_blendv_epi8, _mm_cmpeq_epi16, _mm_cmpgt_epi16, _mm_loadu_si128, _mm_or_si128,
        _mm_set1_epi16, _mm_setzero_si128, _mm_storeu_si128, _CMP_GE_OQ,
    };

    /// Forward PReLU, channel-innermost (inner = 1), on the piece of the flat array that starts
    /// at flat index `start`: `out[i] = leaky_relu(x[i]; alpha[(start + i) % channels])` for f16
    /// (`x = None`: in place), with F16C. `wide` and `zero` are α prepared by
    /// [`crate::kernels::prelu::PreluF16c::new`]. Per 8 elements: widen x, α·x in f32 (exact), round once, zero it
    /// where x is −0 or α is ±0, and keep x where x > 0, x = +0 or x is NaN (one compare on the
    /// bits): 12 instructions with the loads and the store. The same bits as
    /// [`crate::kernels::prelu::leaky_relu_scalar`] on f16. The row walk is in here, so a few channels per row
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
        start: usize,
    ) {
        let (n, channels) = (out.len(), alpha.len());
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
                // `alpha`; each group is read before it is written, so in place works.
                unsafe {
                    let xh = _mm_loadu_si128(src.add(i + j).cast::<__m128i>());
                    let ah = _mm_loadu_si128(alpha.as_ptr().add(ch + j).cast::<__m128i>());
                    // α·x, exact in f32, rounded once; a NaN (from a NaN α) canonical
                    let p = scaled(_mm256_cvtph_ps(ah), _mm256_cvtph_ps(xh));
                    // x = −0 or α = ±0: +0 (0·(−∞) would be NaN, and so would NaN·(−0))
                    let alpha_zero = _mm_cmpeq_epi16(
                        _mm_and_si128(ah, _mm_set1_epi16(0x7fff)),
                        _mm_setzero_si128(),
                    );
                    let to_zero = _mm_or_si128(_mm_cmpeq_epi16(xh, negative_zero), alpha_zero);
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

    /// [`crate::kernels::prelu::PreluGradElement::grad_run_lanes`] for f16 with F16C: per 8 elements, widen g and
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

    /// [`crate::kernels::prelu::PreluGradElement::grad_innermost_plain`] for f16 with F16C, as
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
