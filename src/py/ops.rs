//! The `#[pyfunction]`s: pick the element type from `out`, borrow, run the kernel, release the GIL.

use half::f16;
use numpy::{Element, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::prelude::*;

use super::arrays::{
    borrow_error, borrow_readonly, borrow_readwrite, maybe_detach, same_layout, type_error, typed,
    value_error,
};
use crate::element::Float;
use crate::kernels::elementwise::{Binary, BinaryF16, BinaryOp, ChunkOp, Unary, UnaryF16, UnaryOp};
use crate::kernels::leaky_relu::{LeakyRelu, LeakyReluF16c, LeakyReluGrad, LeakyReluGradF16c};
use crate::kernels::prelu::{Prelu, PreluF16c};
use crate::kernels::relu::{Relu, ReluGrad};
use crate::kernels::softplus::{Softplus, SoftplusGrad};
use crate::parallel;

/// Evaluate `$body` with `$T` bound to the element type of `$out` (a float dtype), in the default
/// floating-point environment: parameter casts and kernels alike ignore the caller's FTZ/DAZ,
/// rounding and trap modes.
macro_rules! dispatch_float {
    ($out:expr, $T:ident => $body:expr) => {{
        let _env = crate::fpenv::Standard::enter();
        let out: &Bound<'_, PyAny> = $out;
        if out.cast::<PyArrayDyn<f32>>().is_ok() {
            type $T = f32;
            $body
        } else if out.cast::<PyArrayDyn<f64>>().is_ok() {
            type $T = f64;
            $body
        } else if out.cast::<PyArrayDyn<f16>>().is_ok() {
            type $T = f16;
            $body
        } else {
            Err(unsupported_dtype(out, "float16, float32 or float64"))
        }
    }};
}

/// Evaluate `$body` with `$T` bound to `$out`'s element type, trying each listed type, in the
/// default floating-point environment.
macro_rules! dispatch_types {
    ($out:expr, $T:ident => $body:expr; $($ty:ty),+) => {{
        let _env = crate::fpenv::Standard::enter();
        let out: &Bound<'_, PyAny> = $out;
        $(
            if out.cast::<PyArrayDyn<$ty>>().is_ok() {
                type $T = $ty;
                return $body;
            }
        )+
        Err(unsupported_dtype(out, "a float, integer or bool dtype"))
    }};
}

fn unsupported_dtype(out: &Bound<'_, PyAny>, expected: &str) -> PyErr {
    let got = out
        .getattr("dtype")
        .map(|d| d.to_string())
        .unwrap_or_else(|_| "a non-array".into());
    type_error(format!(
        "out must be a native-byte-order ndarray of {expected}, got {got}"
    ))
}

/// Borrow `x` and `out` (possibly the same object: in place, `x` is then `None`) and call
/// `f(x, out_slice)`. `Ok(None)`, having called nothing, when the zero-copy path does not apply
/// (layouts differ, or `x` partially overlaps `out`).
fn with_unary<T, R>(
    x: &Bound<'_, PyAny>,
    out: &Bound<'_, PyAny>,
    f: impl FnOnce(Option<&[T]>, &mut [T]) -> R,
) -> PyResult<Option<R>>
where
    T: Element + Copy,
{
    let out_arr = typed::<T>(out, "out")?;
    if x.is(out) {
        let Some(mut out_rw) = borrow_readwrite(out_arr, "out")? else {
            return Ok(None);
        };
        let Ok(o) = out_rw.as_slice_mut() else {
            return Ok(None);
        };
        return Ok(Some(f(None, o)));
    }
    let x_arr = typed::<T>(x, "x")?;
    if !same_layout(x_arr, "x", out_arr)? {
        return Ok(None);
    }
    let Some(mut out_rw) = borrow_readwrite(out_arr, "out")? else {
        return Ok(None);
    };
    let Some(x_ro) = borrow_readonly(x_arr, "x")? else {
        return Ok(None);
    };
    let (Ok(xs), Ok(o)) = (x_ro.as_slice(), out_rw.as_slice_mut()) else {
        return Ok(None);
    };
    Ok(Some(f(Some(xs), o)))
}

/// `out = op(x)` elementwise (in place when `x is out`); `false` if the zero-copy path does not
/// apply.
fn run_unary<T, U>(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    out: &Bound<'_, PyAny>,
    op: U,
) -> PyResult<bool>
where
    T: Element + Copy + Send + Sync,
    U: UnaryOp<T> + Send,
{
    let done = with_unary::<T, ()>(x, out, |xs, o| {
        let work = Unary { op, x: xs };
        maybe_detach(py, o.len(), || parallel::for_each_chunk(o, &work))
    })?;
    Ok(done.is_some())
}

/// `out = op(x)` for float16 arrays through the f32 adapter (F16C conversions); the caller checked
/// that `out` is float16 and that the CPU has F16C.
fn run_unary_f16<O>(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    out: &Bound<'_, PyAny>,
    op: O,
) -> PyResult<bool>
where
    O: UnaryOp<f32> + Send,
{
    let done = with_unary::<f16, ()>(x, out, |xs, o| {
        let work = UnaryF16 {
            op,
            x: xs,
            f16c: true,
        };
        maybe_detach(py, o.len(), || parallel::for_each_chunk(o, &work))
    })?;
    Ok(done.is_some())
}

/// Whether a float16 call can take the F16C adapter: `out` is float16 and the CPU converts in
/// hardware. (Without F16C the generic f16 kernels, with their software conversion, run.)
fn f16c_path(out: &Bound<'_, PyAny>) -> bool {
    crate::simd::has_f16c() && out.cast::<PyArrayDyn<f16>>().is_ok()
}

/// The input slices of a binary op: `None` where the input is `out` itself.
struct BinaryInputs<'a, T> {
    grad: Option<&'a [T]>,
    x: Option<&'a [T]>,
}

/// Borrow `grad`, `x` and `out` (any of which may be the same object) and call
/// `f(inputs, out_slice)`. `Ok(None)`, having called nothing, when the zero-copy path does not
/// apply.
fn with_binary<T, R>(
    grad: &Bound<'_, PyAny>,
    x: &Bound<'_, PyAny>,
    out: &Bound<'_, PyAny>,
    f: impl FnOnce(BinaryInputs<'_, T>, &mut [T]) -> R,
) -> PyResult<Option<R>>
where
    T: Element + Copy,
{
    let out_arr = typed::<T>(out, "out")?;
    let grad_arr = if grad.is(out) {
        None
    } else {
        Some(typed::<T>(grad, "grad")?)
    };
    let x_arr = if x.is(out) {
        None
    } else {
        Some(typed::<T>(x, "x")?)
    };
    for (arr, name) in [(grad_arr, "grad"), (x_arr, "x")] {
        if let Some(a) = arr {
            if !same_layout(a, name, out_arr)? {
                return Ok(None);
            }
        }
    }
    let Some(mut out_rw) = borrow_readwrite(out_arr, "out")? else {
        return Ok(None);
    };
    let mut grad_ro = None;
    if let Some(g) = grad_arr {
        let Some(r) = borrow_readonly(g, "grad")? else {
            return Ok(None);
        };
        grad_ro = Some(r);
    }
    let mut x_ro = None;
    if let Some(a) = x_arr {
        let Some(r) = borrow_readonly(a, "x")? else {
            return Ok(None);
        };
        x_ro = Some(r);
    }
    let (Ok(grad_s), Ok(x_s), Ok(o)) = (
        grad_ro.as_ref().map(|g| g.as_slice()).transpose(),
        x_ro.as_ref().map(|a| a.as_slice()).transpose(),
        out_rw.as_slice_mut(),
    ) else {
        return Ok(None);
    };
    Ok(Some(f(
        BinaryInputs {
            grad: grad_s,
            x: x_s,
        },
        o,
    )))
}

/// `out = op(grad, x)` elementwise, any of the three possibly the same array.
fn run_binary<T, O>(
    py: Python<'_>,
    grad: &Bound<'_, PyAny>,
    x: &Bound<'_, PyAny>,
    out: &Bound<'_, PyAny>,
    op: O,
) -> PyResult<bool>
where
    T: Element + Copy + Send + Sync,
    O: BinaryOp<T> + Send,
{
    let done = with_binary::<T, ()>(grad, x, out, |inp, o| {
        let work = Binary {
            op,
            grad: inp.grad,
            x: inp.x,
        };
        maybe_detach(py, o.len(), || parallel::for_each_chunk(o, &work))
    })?;
    Ok(done.is_some())
}

/// `out = op(grad, x)` for float16 arrays through the f32 adapter, as [`run_unary_f16`].
fn run_binary_f16<O>(
    py: Python<'_>,
    grad: &Bound<'_, PyAny>,
    x: &Bound<'_, PyAny>,
    out: &Bound<'_, PyAny>,
    op: O,
) -> PyResult<bool>
where
    O: BinaryOp<f32> + Send,
{
    let done = with_binary::<f16, ()>(grad, x, out, |inp, o| {
        let work = BinaryF16 {
            op,
            grad: inp.grad,
            x: inp.x,
            f16c: true,
        };
        maybe_detach(py, o.len(), || parallel::for_each_chunk(o, &work))
    })?;
    Ok(done.is_some())
}

/// The channel run length for `out`'s memory order: `inner_c` for C order, else `inner_f`.
fn inner_for<T: Element>(out: &Bound<'_, PyAny>, inner_c: usize, inner_f: usize) -> usize {
    match out.cast::<PyArrayDyn<T>>() {
        Ok(o) if !o.is_c_contiguous() => inner_f,
        _ => inner_c,
    }
}

/// Borrow α, a non-empty 1-D array of `T`. `None` (decline: the caller copies it and retries)
/// when it is borrowed for writing elsewhere, e.g. it overlaps `out`.
fn alpha_array<'py, T: Element>(
    alpha: &Bound<'py, PyAny>,
) -> PyResult<Option<numpy::PyReadonlyArrayDyn<'py, T>>> {
    let arr = typed::<T>(alpha, "alpha")?;
    if arr.ndim() != 1 || arr.len() == 0 {
        return Err(value_error("alpha must be a non-empty 1-D array"));
    }
    borrow_readonly(arr, "alpha")
}

fn check_prelu_layout(n: usize, channels: usize, inner: usize) -> PyResult<()> {
    if inner == 0 || (n > 0 && n % (channels * inner) != 0) {
        return Err(value_error(format!(
            "x has {n} elements, not a multiple of channels ({channels}) x inner ({inner})"
        )));
    }
    Ok(())
}

#[pyfunction]
pub fn relu(py: Python<'_>, x: &Bound<'_, PyAny>, out: &Bound<'_, PyAny>) -> PyResult<bool> {
    dispatch_types!(out, T => run_unary::<T, _>(py, x, out, Relu);
        f32, f64, f16, i8, i16, i32, i64, u8, u16, u32, u64, bool)
}

#[pyfunction]
pub fn relu_grad(
    py: Python<'_>,
    grad: &Bound<'_, PyAny>,
    x: &Bound<'_, PyAny>,
    out: &Bound<'_, PyAny>,
) -> PyResult<bool> {
    dispatch_float!(out, T => run_binary::<T, _>(py, grad, x, out, ReluGrad))
}

#[pyfunction]
pub fn leaky_relu(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    alpha: f64,
    out: &Bound<'_, PyAny>,
) -> PyResult<bool> {
    if f16c_path(out) {
        // (α is converted in the default environment: the caller's rounding mode would change it)
        let _env = crate::fpenv::Standard::enter();
        let alpha = f16::round_from_f64(alpha).to_f32(); // the f16 α, exactly
        if alpha == 0.0 {
            // leaky with α = 0 is relu, element for element (LeakyReluF16c needs α ≠ 0)
            return run_unary::<f16, _>(py, x, out, Relu);
        }
        if alpha.is_finite() {
            let done = with_unary::<f16, ()>(x, out, |xs, o| {
                let work = LeakyReluF16c { x: xs, alpha };
                maybe_detach(py, o.len(), || parallel::for_each_chunk(o, &work))
            })?;
            return Ok(done.is_some());
        }
        // ±∞ (the Python layer rejects it; this binding does not): the generic kernel below
    }
    dispatch_float!(out, T => {
        run_unary::<T, _>(py, x, out, LeakyRelu { alpha: T::round_from_f64(alpha) })
    })
}

#[pyfunction]
pub fn leaky_relu_grad(
    py: Python<'_>,
    grad: &Bound<'_, PyAny>,
    x: &Bound<'_, PyAny>,
    alpha: f64,
    out: &Bound<'_, PyAny>,
) -> PyResult<bool> {
    if f16c_path(out) {
        let _env = crate::fpenv::Standard::enter();
        let alpha = f16::round_from_f64(alpha);
        let done = with_binary::<f16, ()>(grad, x, out, |inp, o| {
            let work = LeakyReluGradF16c {
                grad: inp.grad,
                x: inp.x,
                alpha,
            };
            maybe_detach(py, o.len(), || parallel::for_each_chunk(o, &work))
        })?;
        return Ok(done.is_some());
    }
    dispatch_float!(out, T => {
        run_binary::<T, _>(py, grad, x, out, LeakyReluGrad { alpha: T::round_from_f64(alpha) })
    })
}

/// How the forward PReLU builds its chunk work for element type `T`.
trait PreluWork<T: Element> {
    type Work<'a>: ChunkOp<T>
    where
        T: 'a;
    fn make<'a>(x: Option<&'a [T]>, alpha: &'a [T], inner: usize) -> Self::Work<'a>;
}

/// The generic kernel, every float type.
struct GenericPrelu;
impl<T: Float + Element + Send + Sync> PreluWork<T> for GenericPrelu {
    type Work<'a> = Prelu<'a, T>;
    fn make<'a>(x: Option<&'a [T]>, alpha: &'a [T], inner: usize) -> Prelu<'a, T> {
        Prelu { x, alpha, inner }
    }
}

/// The F16C kernel, float16 where the CPU has F16C.
struct F16cPrelu;
impl PreluWork<f16> for F16cPrelu {
    type Work<'a> = PreluF16c<'a>;
    fn make<'a>(x: Option<&'a [f16]>, alpha: &'a [f16], inner: usize) -> PreluF16c<'a> {
        PreluF16c::new(x, alpha, inner)
    }
}

/// `out = prelu(x, alpha)` with `W`'s kernel; `false` if the zero-copy path does not apply.
fn run_prelu<T, W>(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    alpha: &Bound<'_, PyAny>,
    inner_c: usize,
    inner_f: usize,
    out: &Bound<'_, PyAny>,
) -> PyResult<bool>
where
    T: Element + Copy + Send + Sync,
    W: PreluWork<T>,
{
    let Some(alpha_ro) = alpha_array::<T>(alpha)? else {
        return Ok(false);
    };
    let Ok(a) = alpha_ro.as_slice() else {
        return Ok(false); // not contiguous: the caller makes a contiguous copy
    };
    let inner = inner_for::<T>(out, inner_c, inner_f);
    let n = out.cast::<PyArrayDyn<T>>().map(|o| o.len()).unwrap_or(0);
    check_prelu_layout(n, a.len(), inner)?;
    let done = with_unary::<T, ()>(x, out, |xs, o| {
        let work = W::make(xs, a, inner);
        maybe_detach(py, o.len(), || parallel::for_each_chunk(o, &work))
    })?;
    Ok(done.is_some())
}

#[pyfunction]
pub fn prelu(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    alpha: &Bound<'_, PyAny>,
    inner_c: usize,
    inner_f: usize,
    out: &Bound<'_, PyAny>,
) -> PyResult<bool> {
    if f16c_path(out) {
        let _env = crate::fpenv::Standard::enter();
        return run_prelu::<f16, F16cPrelu>(py, x, alpha, inner_c, inner_f, out);
    }
    dispatch_float!(out, T => run_prelu::<T, GenericPrelu>(py, x, alpha, inner_c, inner_f, out))
}

#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn prelu_grad(
    py: Python<'_>,
    grad: &Bound<'_, PyAny>,
    x: &Bound<'_, PyAny>,
    alpha: &Bound<'_, PyAny>,
    inner_c: usize,
    inner_f: usize,
    out: &Bound<'_, PyAny>,
    alpha_grad: &Bound<'_, PyAny>,
) -> PyResult<bool> {
    dispatch_float!(out, T => {
        let Some(alpha_ro) = alpha_array::<T>(alpha)? else {
            return Ok(false);
        };
        let Ok(a) = alpha_ro.as_slice() else {
            return Ok(false); // not contiguous: the caller makes a contiguous copy
        };
        let ag = typed::<T>(alpha_grad, "alpha_grad")?;
        if ag.ndim() != 1 || ag.len() != a.len() {
            return Err(value_error(format!(
                "alpha_grad must be 1-D with {} elements, got shape {:?}",
                a.len(),
                ag.shape()
            )));
        }
        let channels = a.len();
        let inner = inner_for::<T>(out, inner_c, inner_f);
        let sums = with_binary::<T, PyResult<Vec<T>>>(grad, x, out, |inp, o| {
            check_prelu_layout(o.len(), channels, inner)?;
            let n = o.len();
            Ok(maybe_detach(py, n, || {
                let sums = parallel::prelu_grad(inp.grad, inp.x, o, a, inner);
                sums.into_iter().map(T::from_f64).collect()
            }))
        })?;
        let Some(sums) = sums.transpose()? else {
            return Ok(false);
        };
        let mut ag_rw = ag.try_readwrite().map_err(|e| borrow_error("alpha_grad", e))?;
        let dst = ag_rw.as_slice_mut().map_err(|e| borrow_error("alpha_grad", e))?;
        dst.copy_from_slice(&sums);
        Ok(true)
    })
}

#[pyfunction]
pub fn softplus(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    beta: f64,
    threshold: f64,
    out: &Bound<'_, PyAny>,
) -> PyResult<bool> {
    if beta == 1.0 && f16c_path(out) {
        let _env = crate::fpenv::Standard::enter();
        return run_unary_f16(py, x, out, Softplus::<false> { beta, threshold });
    }
    dispatch_float!(out, T => if beta == 1.0 {
        run_unary::<T, _>(py, x, out, Softplus::<false> { beta, threshold })
    } else {
        run_unary::<T, _>(py, x, out, Softplus::<true> { beta, threshold })
    })
}

#[pyfunction]
pub fn softplus_grad(
    py: Python<'_>,
    grad: &Bound<'_, PyAny>,
    x: &Bound<'_, PyAny>,
    beta: f64,
    threshold: f64,
    out: &Bound<'_, PyAny>,
) -> PyResult<bool> {
    if beta == 1.0 && f16c_path(out) {
        let _env = crate::fpenv::Standard::enter();
        return run_binary_f16(py, grad, x, out, SoftplusGrad::<false> { beta, threshold });
    }
    dispatch_float!(out, T => if beta == 1.0 {
        run_binary::<T, _>(py, grad, x, out, SoftplusGrad::<false> { beta, threshold })
    } else {
        run_binary::<T, _>(py, grad, x, out, SoftplusGrad::<true> { beta, threshold })
    })
}

#[pyfunction]
#[pyo3(signature = (n=None))]
pub fn set_num_threads(n: Option<usize>) -> PyResult<()> {
    if n == Some(0) {
        return Err(value_error("n must be >= 1 (or None for the default)"));
    }
    parallel::set_num_threads(n);
    Ok(())
}

#[pyfunction]
pub fn get_num_threads() -> usize {
    parallel::num_threads()
}

#[pyfunction]
pub fn simd_path() -> &'static str {
    crate::simd::active_path()
}
