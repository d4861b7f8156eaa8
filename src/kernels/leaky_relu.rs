//! Leaky ReLU and its gradient, for one α shared by every element.

use super::elementwise::{map_binary, map_unary, BinaryOp, UnaryOp};
use crate::element::Float;

/// leaky_relu(x; α) = x if x > 0 else α·x = max(0, x) + α·min(0, x).
///
/// * α = 0 is exactly relu (even at x = −∞, where α·x would be NaN); α = −1 is |x|.
/// * NaN in, the same NaN out. ±0 in gives +0 for every α.
/// * α·x is rounded once in the element type (f16: the f32 product is exact, then one rounding),
///   so the result is correctly rounded: ≤ 0.5 ULP, and exact where x > 0.
#[inline(always)]
pub fn leaky_relu_scalar<T: Float>(x: T, alpha: T) -> T {
    // The product first, unconditionally: a select of computed values is what vectorizes (with
    // the product inside the branch, the f16 loop stayed scalar, 7x slower than torch).
    let scaled = alpha.mul(x);
    if x > T::ZERO || x.is_nan() {
        x
    } else if x == T::ZERO || alpha == T::ZERO {
        T::ZERO
    } else {
        scaled
    }
}

/// [`leaky_relu_scalar`] with a fixed α, as an elementwise operation.
pub struct LeakyRelu<T> {
    pub alpha: T,
}

impl<T: Float> UnaryOp<T> for LeakyRelu<T> {
    #[inline(always)]
    fn apply(&self, x: T) -> T {
        leaky_relu_scalar(x, self.alpha)
    }
}

/// `out = leaky_relu(x; alpha)` elementwise; `x = None` works in place.
#[inline(always)]
pub fn leaky_relu<T: Float>(x: Option<&[T]>, out: &mut [T], alpha: T) {
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
pub fn leaky_relu_grad_scalar<T: Float>(grad: T, x: T, alpha: T) -> T {
    let scaled = alpha.mul(grad); // unconditionally, as in leaky_relu_scalar
    if x > T::ZERO {
        grad
    } else if x.is_nan() {
        x
    } else if alpha == T::ZERO {
        T::ZERO
    } else {
        scaled
    }
}

/// [`leaky_relu_grad_scalar`] with a fixed α, as an elementwise operation.
pub struct LeakyReluGrad<T> {
    pub alpha: T,
}

impl<T: Float> BinaryOp<T> for LeakyReluGrad<T> {
    #[inline(always)]
    fn apply(&self, grad: T, x: T) -> T {
        leaky_relu_grad_scalar(grad, x, self.alpha)
    }
}

/// `out = leaky_relu_grad(grad, x; alpha)` elementwise; `None` for an input means it is `out`.
#[inline(always)]
pub fn leaky_relu_grad<T: Float>(grad: Option<&[T]>, x: Option<&[T]>, out: &mut [T], alpha: T) {
    map_binary(&LeakyReluGrad { alpha }, grad, x, out);
}

#[cfg(test)]
mod tests {
    use super::*;

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
