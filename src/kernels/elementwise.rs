//! The two loops every elementwise kernel is built on, with the in-place cases spelled out so that
//! each loop is a plain zip the compiler can vectorize.

/// `out[i] = f(x[i])`; `x = None` means `out` is also the input.
///
/// The caller guarantees that `x`, when given, has `out.len()` elements.
#[inline(always)]
pub fn map_unary<T: Copy>(x: Option<&[T]>, out: &mut [T], f: impl Fn(T) -> T) {
    match x {
        Some(x) => {
            debug_assert_eq!(x.len(), out.len());
            for (o, &v) in out.iter_mut().zip(x) {
                *o = f(v);
            }
        }
        None => {
            for o in out.iter_mut() {
                *o = f(*o);
            }
        }
    }
}

/// `out[i] = f(grad[i], x[i])`; `None` for either input means it is `out` itself.
///
/// `grad` and `x` may be the same slice (`Some(a), Some(a)`).
#[inline(always)]
pub fn map_binary<T: Copy>(
    grad: Option<&[T]>,
    x: Option<&[T]>,
    out: &mut [T],
    f: impl Fn(T, T) -> T,
) {
    match (grad, x) {
        (Some(g), Some(x)) => {
            debug_assert!(g.len() == out.len() && x.len() == out.len());
            for ((o, &gv), &xv) in out.iter_mut().zip(g).zip(x) {
                *o = f(gv, xv);
            }
        }
        (None, Some(x)) => {
            debug_assert_eq!(x.len(), out.len());
            for (o, &xv) in out.iter_mut().zip(x) {
                *o = f(*o, xv);
            }
        }
        (Some(g), None) => {
            debug_assert_eq!(g.len(), out.len());
            for (o, &gv) in out.iter_mut().zip(g) {
                *o = f(gv, *o);
            }
        }
        (None, None) => {
            for o in out.iter_mut() {
                *o = f(*o, *o);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_place_forms_match_out_of_place() {
        let g: Vec<f64> = (0..37).map(|i| i as f64 - 18.0).collect();
        let x: Vec<f64> = (0..37).map(|i| (i as f64 * 0.7).sin()).collect();
        let f = |a: f64, b: f64| a * 2.0 + b;
        let mut reference = vec![0.0; 37];
        map_binary(Some(&g), Some(&x), &mut reference, f);

        let mut grad_out = g.clone();
        map_binary(None, Some(&x), &mut grad_out, f);
        assert_eq!(grad_out, reference);

        let mut x_out = x.clone();
        map_binary(Some(&g), None, &mut x_out, f);
        assert_eq!(x_out, reference);

        let mut both = x.clone();
        map_binary(None, None, &mut both, f);
        let mut same = vec![0.0; 37];
        map_binary(Some(&x), Some(&x), &mut same, f);
        assert_eq!(both, same);

        let mut u = x.clone();
        map_unary(None, &mut u, |v| v * 3.0);
        let mut u_ref = vec![0.0; 37];
        map_unary(Some(&x), &mut u_ref, |v| v * 3.0);
        assert_eq!(u, u_ref);
    }
}
