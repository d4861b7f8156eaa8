//! Softplus and its gradient. Every element type is evaluated in f64 ([`crate::math`]) and rounded
//! once, so f32/f16 results are within 1 ULP (the f64 value is within 2 f64-ULP of exact), and f64
//! results within 2 ULP, for every x including those whose result is subnormal.

use super::elementwise::{map_binary, map_unary};
use crate::element::Float;
use crate::math;

/// `out = softplus(x; beta, threshold)`; see [`math::softplus`]. `x = None` works in place.
pub fn softplus<T: Float>(x: Option<&[T]>, out: &mut [T], beta: f64, threshold: f64) {
    map_unary(x, out, |v| {
        T::from_f64(math::softplus(v.to_f64(), beta, threshold))
    });
}

/// `out = grad·σ(beta·x)` (`grad` where beta·x > threshold); see [`math::softplus_grad`].
pub fn softplus_grad<T: Float>(
    grad: Option<&[T]>,
    x: Option<&[T]>,
    out: &mut [T],
    beta: f64,
    threshold: f64,
) {
    map_binary(grad, x, out, |g, v| {
        T::from_f64(math::softplus_grad(g.to_f64(), v.to_f64(), beta, threshold))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_rounds_the_f64_value_once() {
        let x: Vec<f32> = (-200..200).map(|i| i as f32 * 0.37).collect();
        let mut out = vec![0.0f32; x.len()];
        softplus(Some(&x), &mut out, 1.0, f64::INFINITY);
        for (&o, &v) in out.iter().zip(&x) {
            assert_eq!(o, math::softplus(v as f64, 1.0, f64::INFINITY) as f32);
        }
        let g = vec![2.0f32; x.len()];
        softplus_grad(Some(&g), Some(&x), &mut out, 1.0, f64::INFINITY);
        for (&o, &v) in out.iter().zip(&x) {
            assert_eq!(o, (2.0 * math::sigmoid_scaled(v as f64, 1.0)) as f32);
        }
    }
}
