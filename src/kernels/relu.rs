//! ReLU and its gradient.

use super::elementwise::{BinaryOp, UnaryOp};
use crate::element::{Float, ReluElement};

/// relu(x) = max(0, x).
///
/// * NaN in, the same NaN out. `-0.0` and every negative value give `+0.0`, so the result never
///   has its sign bit set (except a NaN that had it). Integers: `max(0, x)`; unsigned and bool:
///   the identity.
/// * Exact (0 ULP): the result is one of the inputs or zero.
#[inline(always)]
pub fn relu_scalar<T: ReluElement>(x: T) -> T {
    if x > T::ZERO || x.is_nan() {
        x
    } else {
        T::ZERO
    }
}

/// relu'(x)·grad: `grad` where `x > 0`, `+0` where `x <= 0` (the gradient at 0 is 0), NaN where
/// `x` is NaN. `x` may be relu's input or its output: both are positive at the same places.
///
/// A NaN or infinite `grad` where `x <= 0` gives 0 (the branch is not taken), as in PyTorch's
/// `threshold_backward`. Exact (0 ULP).
#[inline(always)]
pub fn relu_grad_scalar<T: Float>(grad: T, x: T) -> T {
    let kept = grad.keep_or_zero(x > T::ZERO);
    if x.is_nan() {
        x
    } else {
        kept
    }
}

/// [`relu_scalar`] as an elementwise operation.
pub struct Relu;

impl<T: ReluElement> UnaryOp<T> for Relu {
    const STAGE_IN_PLACE: bool = T::STAGE_IN_PLACE;
    #[inline(always)]
    fn apply(&self, x: T) -> T {
        relu_scalar(x)
    }
}

/// [`relu_grad_scalar`] as an elementwise operation.
pub struct ReluGrad;

impl<T: Float> BinaryOp<T> for ReluGrad {
    #[inline(always)]
    fn apply(&self, grad: T, x: T) -> T {
        relu_grad_scalar(grad, x)
    }
}

/// relu clipped at `max`: min(max(0, x), max), for `max >= 0` (ReLU6 at `max = 6`).
///
/// NaN in, the same NaN out; ±0 gives +0 (for `max = +0` as well). Exact: the result is `x`,
/// `+0` or `max`.
pub struct ClippedRelu<T> {
    pub max: T,
}

impl<T: ReluElement> UnaryOp<T> for ClippedRelu<T> {
    const STAGE_IN_PLACE: bool = T::STAGE_IN_PLACE;
    #[inline(always)]
    fn apply(&self, x: T) -> T {
        let r = relu_scalar(x);
        // NaN > max is false: the NaN stays
        if r > self.max {
            self.max
        } else {
            r
        }
    }
}

/// The gradient of [`ClippedRelu`]: `grad` where `0 < x < max`, `+0` elsewhere (0 at both ends,
/// as PyTorch's relu6/hardtanh backward), NaN where `x` is NaN. `x` may be the clipped output:
/// it lies strictly inside (0, max) at the same places.
pub struct ClippedReluGrad<T> {
    pub max: T,
}

impl<T: Float> BinaryOp<T> for ClippedReluGrad<T> {
    #[inline(always)]
    fn apply(&self, grad: T, x: T) -> T {
        // `&`, not `&&`: both compares, no branch, so the loop vectorizes
        let kept = grad.keep_or_zero((x > T::ZERO) & (x < self.max));
        if x.is_nan() {
            x
        } else {
            kept
        }
    }
}

/// `out = relu(x)` over contiguous slices (any layout, contiguous); `x = None` works in place.
#[cfg(test)]
#[inline(always)]
pub fn relu<T: ReluElement>(x: Option<&[T]>, out: &mut [T]) {
    super::elementwise::map_unary(&Relu, x, out);
}

/// `out = relu_grad(grad, x)` elementwise; `None` for an input means it is `out` (in place).
#[cfg(test)]
#[inline(always)]
pub fn relu_grad<T: Float>(grad: Option<&[T]>, x: Option<&[T]>, out: &mut [T]) {
    super::elementwise::map_binary(&ReluGrad, grad, x, out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use half::f16;

    #[test]
    fn relu_special_values() {
        let x = [
            -2.0f64,
            -0.0,
            0.0,
            3.5,
            f64::INFINITY,
            f64::NEG_INFINITY,
            5e-324,
            -5e-324,
        ];
        let mut out = [9.0; 8];
        relu(Some(&x), &mut out);
        assert_eq!(out, [0.0, 0.0, 0.0, 3.5, f64::INFINITY, 0.0, 5e-324, 0.0]);
        assert!(out.iter().all(|v| v.is_sign_positive()));
        let mut nan = [f64::NAN];
        relu(None, &mut nan);
        assert!(nan[0].is_nan());
    }

    #[test]
    fn relu_integers_and_f16() {
        let mut v = [-3i8, 0, 7, i8::MIN, i8::MAX];
        relu(None, &mut v);
        assert_eq!(v, [0, 0, 7, 0, i8::MAX]);
        let mut u = [0u64, u64::MAX];
        relu(None, &mut u);
        assert_eq!(u, [0, u64::MAX]);
        let h = [f16::from_f32(-1.5), f16::from_f32(2.0), f16::NAN];
        let mut o = [f16::ZERO; 3];
        relu(Some(&h), &mut o);
        assert_eq!(o[0], f16::ZERO);
        assert_eq!(o[1], f16::from_f32(2.0));
        assert!(o[2].is_nan());
    }

    #[test]
    fn relu_grad_rules() {
        let g = [1.5f32, 2.0, 3.0, f32::NAN, f32::INFINITY, 4.0];
        let x = [1.0f32, 0.0, -1.0, -2.0, -1.0, f32::NAN];
        let mut out = [0.0f32; 6];
        relu_grad(Some(&g), Some(&x), &mut out);
        assert_eq!(&out[..5], &[1.5, 0.0, 0.0, 0.0, 0.0]);
        assert!(out[5].is_nan());
    }

    /// In place (the staged loop for relu, `keep_or_zero` for the grad) gives the bits of out of
    /// place, at lengths around the staging step, with NaN payloads of both signs and -0.
    #[test]
    fn in_place_bits_match_out_of_place() {
        let specials = [
            f32::from_bits(0x7fc0_0001),
            f32::from_bits(0xffc0_0000),
            f32::from_bits(0x7f80_0001), // signalling: must come back unquieted
            -0.0,
            0.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            -1e-45,
        ];
        for n in [0usize, 1, 7, 255, 256, 257, 600] {
            let x: Vec<f32> = (0..n)
                .map(|i| match i % 11 {
                    k @ 0..=7 => specials[k],
                    k => (i as f32 * 0.37).sin() * k as f32,
                })
                .collect();
            let g: Vec<f32> = x.iter().rev().map(|v| v * 2.0 + 1.0).collect();
            let mut want = vec![0.0f32; n];
            relu(Some(&x), &mut want);
            let mut got = x.clone();
            relu(None, &mut got);
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "relu, n = {n}");

            relu_grad(Some(&g), Some(&x), &mut want);
            let mut got = g.clone();
            relu_grad(None, Some(&x), &mut got);
            assert_eq!(bits(&got), bits(&want), "relu_grad on grad, n = {n}");
            let mut got = x.clone();
            relu_grad(Some(&g), None, &mut got);
            assert_eq!(bits(&got), bits(&want), "relu_grad on x, n = {n}");
        }
    }
}
