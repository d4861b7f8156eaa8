//! The Python functions: each converts its arguments through [`Inputs`], checks its parameters,
//! builds its op (`crate::ops`) and applies it. Their doc comments are the Python docstrings.

use super::args::{self, channel_axis, softplus_params, thread_count, Flag, Index, Real};
use super::array::{
    copy_in, dtype_of, empty, is_native, is_writeable, may_overlap, np_errstate, shape_repr,
    type_error, value_error, Array,
};
use super::call::{as_array, check_out, Inputs};
use crate::ops::prelu::ChannelRuns;
use crate::ops::{self, Dtype, Order};
use numpy::{PyArrayDescrMethods, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

type Out<'py> = Option<&'py Bound<'py, PyAny>>;

/// Rectified linear unit, elementwise: ``relu(x) = max(0, x)``, or ``min(max(0, x), max_value)``.
///
/// Exact (the result is ``x``, ``+0`` or ``max_value``). NaN propagates; ``-0.0`` and all negatives
/// give ``+0.0``. Floats (float16/32/64, bfloat16), signed and unsigned integers and bool keep
/// their dtype.
/// ``max_value=6`` is ReLU6 (PyTorch's ``relu6``, Keras's ``relu(max_value=6)``).
///
/// Parameters
/// ----------
/// x : array_like
///     Input of any shape and layout.
/// max_value : real, optional
///     Upper clip, ``>= 0``; ``None`` or ``inf`` for none. For float x it is rounded to x's dtype
///     (so the result is the correctly rounded ``min(max(0, x), max_value)``); for integer x it
///     must be an integer, taken exactly and saturated to the dtype's range.
/// out : ndarray, optional
///     Writeable array of ``x``'s shape and dtype to write into (may be ``x`` itself).
///
/// Raises
/// ------
/// TypeError
///     ``x`` has an unsupported dtype (complex, object, str, datetime, long double), ``max_value``
///     is not a real number, or ``out`` is not an ndarray or has the wrong dtype.
/// ValueError
///     ``max_value`` is NaN or negative (or not an integer for integer x), or ``out`` has the
///     wrong shape or is read-only.
#[pyfunction]
#[pyo3(
    signature = (x, *, max_value = None, out = None),
    text_signature = "(x, *, max_value=None, out=None)"
)]
pub fn relu<'py>(
    x: &Bound<'py, PyAny>,
    max_value: Option<&Bound<'py, PyAny>>,
    out: Out<'py>,
) -> PyResult<Array<'py>> {
    let inputs = Inputs::of::<ops::relu::Forward>(&[x])?;
    let max_value = args::max_value(max_value, inputs.dtype)?;
    inputs.apply(&ops::relu::Forward { max_value }, out)
}

/// Gradient of relu: ``grad`` where ``x > 0`` (and ``x < max_value``), else ``0``; NaN where ``x``
/// is NaN.
///
/// ``x`` may be relu's input or its output (they lie in (0, max_value) at the same places), so
/// ``relu(x, out=x)`` followed by ``relu_grad(g, x, out=g)`` is a valid in-place training step.
/// The gradient at 0 and at ``max_value`` is 0 (as PyTorch's ``relu6`` backward). ``max_value``
/// is checked and rounded as in :func:`relu`. A NaN/inf ``grad`` where the gradient is 0 gives 0
/// (as PyTorch does).
#[pyfunction]
#[pyo3(
    signature = (grad, x, *, max_value = None, out = None),
    text_signature = "(grad, x, *, max_value=None, out=None)"
)]
pub fn relu_grad<'py>(
    grad: &Bound<'py, PyAny>,
    x: &Bound<'py, PyAny>,
    max_value: Option<&Bound<'py, PyAny>>,
    out: Out<'py>,
) -> PyResult<Array<'py>> {
    let inputs = Inputs::of::<ops::relu::Backward>(&[grad, x])?;
    let max_value = args::max_value(max_value, inputs.dtype)?;
    inputs.apply(&ops::relu::Backward { max_value }, out)
}

/// Leaky ReLU: ``x if x > 0 else alpha*x`` = ``max(0, x) + alpha*min(0, x)``.
///
/// Any finite ``alpha`` (rounded to ``x``'s dtype; for float16 and bfloat16 ``x`` to float32,
/// PyTorch's compute precision): ``alpha=0`` is exactly relu, ``alpha=-1`` is ``abs``. Correctly rounded
/// (``alpha*x`` is rounded once, from the exact product). NaN propagates; ``±0`` gives ``+0``.
///
/// Raises ValueError if ``alpha`` is not finite in ``x``'s dtype, TypeError if it is not a real
/// scalar (use :func:`prelu` for per-channel alphas).
#[pyfunction]
#[pyo3(
    signature = (x, alpha = Real::Value(0.01), *, out = None),
    text_signature = "(x, alpha=0.01, *, out=None)"
)]
pub fn leaky_relu<'py>(x: &Bound<'py, PyAny>, alpha: Real, out: Out<'py>) -> PyResult<Array<'py>> {
    let inputs = Inputs::of::<ops::leaky_relu::Forward>(&[x])?;
    let alpha = alpha.finite_in(inputs.dtype, "alpha", x.py())?;
    inputs.apply(&ops::leaky_relu::Forward { alpha }, out)
}

/// Gradient of leaky_relu: ``grad if x > 0 else alpha*grad``; the gradient at 0 is ``alpha``.
///
/// NaN where ``x`` is NaN. For ``alpha >= 0``, ``x`` may be leaky_relu's output instead of its
/// input. ``alpha=0`` gives exactly relu's gradient. ``alpha`` is rounded as in
/// :func:`leaky_relu` and ``alpha*grad`` once.
#[pyfunction]
#[pyo3(
    signature = (grad, x, alpha = Real::Value(0.01), *, out = None),
    text_signature = "(grad, x, alpha=0.01, *, out=None)"
)]
pub fn leaky_relu_grad<'py>(
    grad: &Bound<'py, PyAny>,
    x: &Bound<'py, PyAny>,
    alpha: Real,
    out: Out<'py>,
) -> PyResult<Array<'py>> {
    let inputs = Inputs::of::<ops::leaky_relu::Backward>(&[grad, x])?;
    let alpha = alpha.finite_in(inputs.dtype, "alpha", x.py())?;
    inputs.apply(&ops::leaky_relu::Backward { alpha }, out)
}

/// PReLU's α, checked against x: its shape, the channel runs, and a contiguous 1-D vector of
/// x's dtype (α itself when it already is one).
pub(super) struct PreluAlpha<'py> {
    shape: Vec<usize>,
    pub vector: Array<'py>,
    pub runs: ChannelRuns,
}

impl<'py> PreluAlpha<'py> {
    /// `x` is named `x_name` in messages.
    pub(super) fn new(
        alpha: &Bound<'py, PyAny>,
        x: &Array<'py>,
        x_name: &str,
        dtype: Dtype,
        axis: &Index,
    ) -> PyResult<Self> {
        let a = as_array(alpha, "alpha")?;
        let d = a.dtype();
        if !matches!(d.kind(), b'f' | b'i' | b'u' | b'b') && dtype_of(&d) != Some(Dtype::BF16) {
            return Err(type_error(format!(
                "alpha has unsupported dtype {d}; expected a real dtype"
            )));
        }
        let shape = a.shape().to_vec();
        let runs = if a.len() == 1 {
            // shared: one channel whose run is the whole array (axis ignored)
            let n = x.len().max(1);
            ChannelRuns {
                c_order: n,
                f_order: n,
            }
        } else {
            if a.ndim() != 1 {
                return Err(value_error(format!(
                    "alpha must be a scalar or a 1-D array (one value per channel), got shape {}",
                    shape_repr(&shape)
                )));
            }
            let (ax, given) = channel_axis(axis, x.ndim(), x_name)?;
            let xs = x.shape();
            if shape[0] != xs[ax] {
                return Err(value_error(format!(
                    "alpha has {} values but {x_name}.shape[{given}] is {}",
                    shape[0], xs[ax]
                )));
            }
            ChannelRuns {
                c_order: xs[ax + 1..].iter().product::<usize>().max(1),
                f_order: xs[..ax].iter().product::<usize>().max(1),
            }
        };
        let usable = is_native(&a, dtype)
            && a.is_c_contiguous()
            && (a.ndim() <= 1 || a.len() == 1)
            && a.is_aligned();
        let vector = if usable {
            a
        } else {
            // α beyond the dtype's range becomes ±inf, as NumPy casts it, without a warning
            let py = a.py();
            let quiet = PyDict::new(py);
            quiet.set_item("over", "ignore")?;
            quiet.set_item("invalid", "ignore")?;
            let guard = np_errstate(py)?.call((), Some(&quiet))?;
            guard.call_method0("__enter__")?;
            let flat = a.call_method1("reshape", (-1,))?.cast_into()?;
            let copied = copy_in(&flat, dtype, Order::C);
            guard.call_method1("__exit__", (py.None(), py.None(), py.None()))?;
            copied?
        };
        Ok(PreluAlpha {
            shape,
            vector,
            runs,
        })
    }
}

/// Parametric ReLU: ``x if x > 0 else alpha[c]*x`` with ``c`` the index along ``axis``.
///
/// ``alpha`` is one shared value (a scalar or size-1 array; ``axis`` is then ignored, so 0-d and
/// 1-D ``x`` work) or a 1-D array of length ``x.shape[axis]`` — one alpha per channel/unit.
/// ``axis=1`` matches PyTorch's NCHW and ``(N, C)`` layouts; ``axis=-1`` is NHWC. ``alpha`` is cast
/// to ``x``'s dtype. Same rounding, NaN and zero rules as :func:`leaky_relu`.
#[pyfunction]
#[pyo3(
    signature = (x, alpha, *, axis = Index::Value(1), out = None),
    text_signature = "(x, alpha, *, axis=1, out=None)"
)]
pub fn prelu<'py>(
    x: &Bound<'py, PyAny>,
    alpha: &Bound<'py, PyAny>,
    axis: Index,
    out: Out<'py>,
) -> PyResult<Array<'py>> {
    let inputs = Inputs::of::<ops::prelu::Forward>(&[x])?;
    let alpha = PreluAlpha::new(alpha, inputs.x(), "x", inputs.dtype, &axis)?;
    let target = inputs.target(out)?;
    let op = ops::prelu::Forward { runs: alpha.runs };
    inputs.run(&op, &target, Some(&alpha.vector), None)?;
    Ok(target)
}

/// Backward of :func:`prelu`: returns ``(grad_x, grad_alpha)`` from one fused pass.
///
/// * ``grad_x = grad if x > 0 else alpha[c]*grad`` (the gradient at 0 is ``alpha[c]``); NaN where
///   ``x`` is NaN.
/// * ``grad_alpha[c] = sum(grad * min(0, x))`` over every element of channel ``c`` (all batch and
///   spatial positions); ``x = 0`` contributes 0, a NaN ``x`` makes it NaN. It has ``alpha``'s
///   shape (a shared alpha sums over everything) and ``x``'s dtype. It needs the input ``x``:
///   unlike the other gradients, prelu's output does not determine it.
///
/// The sum is accumulated in float64 over fixed tiles and combined in a fixed order, so it is
/// bit-identical for every thread count, and within 2 ULP of the exact sum for float32 inputs.
/// ``alpha_grad_out``, if given (``alpha``'s shape, ``x``'s dtype), is overwritten with
/// ``grad_alpha`` and returned. It is written after every input has been read, so it may be
/// ``alpha`` itself; it must not overlap ``out``.
#[pyfunction]
#[pyo3(
    signature = (grad, x, alpha, *, axis = Index::Value(1), out = None, alpha_grad_out = None),
    text_signature = "(grad, x, alpha, *, axis=1, out=None, alpha_grad_out=None)"
)]
pub fn prelu_grad<'py>(
    grad: &Bound<'py, PyAny>,
    x: &Bound<'py, PyAny>,
    alpha: &Bound<'py, PyAny>,
    axis: Index,
    out: Out<'py>,
    alpha_grad_out: Out<'py>,
) -> PyResult<Bound<'py, PyTuple>> {
    let py = x.py();
    let inputs = Inputs::of::<ops::prelu::Backward>(&[grad, x])?;
    let dtype = inputs.dtype;
    let alpha = PreluAlpha::new(alpha, inputs.x(), "x", dtype, &axis)?;
    let target = inputs.target(out)?;
    let alpha_grad_out = match alpha_grad_out {
        None => None,
        Some(ag) => {
            let ag = check_out(ag, &alpha.shape, dtype, "alpha_grad_out")?;
            if !is_writeable(&ag) {
                return Err(value_error("alpha_grad_out is read-only"));
            }
            if out.is_some() && may_overlap(&ag, &target, dtype) {
                return Err(value_error("alpha_grad_out overlaps out"));
            }
            Some(ag)
        }
    };
    let op = ops::prelu::Backward { runs: alpha.runs };
    let grad_alpha = empty(py, dtype, &alpha.shape, Order::C)?;
    if !inputs.run(&op, &target, Some(&alpha.vector), Some(&grad_alpha))? {
        grad_alpha.call_method1("fill", (0,))?; // x is empty: every sum is 0
    }
    let grad_alpha = match alpha_grad_out {
        Some(ag) => {
            // written once every input has been read, so it may be alpha, grad or x
            super::array::copy_into(&ag, &grad_alpha)?;
            ag
        }
        None => grad_alpha,
    };
    PyTuple::new(py, [target.into_any(), grad_alpha.into_any()])
}

/// Softplus (soft ReLU): ``log(1 + exp(beta*x)) / beta``, computed so it never overflows.
///
/// Evaluated as ``x + log1p(exp(-beta*x))/beta`` (``beta*x > 0``) or ``log1p(exp(beta*x))/beta``:
/// within 1 ULP for float32/float16/bfloat16 and 2 ULP for float64 over the whole range, subnormal
/// results included. At ``beta=1`` each dtype runs in its own precision (float16 and bfloat16 in
/// float32) with the
/// leading terms carried as exact pairs: measured at most 0.78 ULP over every float32, 0.75 ULP
/// on 400K float64 samples. Other ``beta`` are evaluated in float64 and rounded once (float64: as
/// ``softplus(beta*x)/beta`` from the same pairs, measured at most 0.9 ULP). ``threshold``: where ``beta*x > threshold`` return
/// ``x`` (``threshold=20`` reproduces ``torch.nn.functional.softplus``); ``None`` (the default)
/// applies no cutoff beyond the exact one. ``beta`` must be finite and > 0.
#[pyfunction]
#[pyo3(
    signature = (x, beta = Real::Value(1.0), threshold = None, *, out = None),
    text_signature = "(x, beta=1.0, threshold=None, *, out=None)"
)]
pub fn softplus<'py>(
    x: &Bound<'py, PyAny>,
    beta: Real,
    threshold: Option<Real>,
    out: Out<'py>,
) -> PyResult<Array<'py>> {
    let inputs = Inputs::of::<ops::softplus::Forward>(&[x])?;
    let (beta, threshold) = softplus_params(&beta, threshold.as_ref(), x.py())?;
    inputs.apply(&ops::softplus::Forward { beta, threshold }, out)
}

/// Gradient of softplus: ``grad * sigmoid(beta*x)``; ``grad`` where ``beta*x > threshold``.
///
/// sigmoid is evaluated as ``1/(1+t)`` or ``t/(1+t)`` with ``t = exp(-|beta*x|)``, so it never
/// forms inf/inf. Within 2 ULP (at ``beta=1``, measured over every float32 for two grads: at
/// most 1.07 ULP; on 400K float64 samples: 0.99 ULP). NaN where ``x`` is NaN.
///
/// With ``from_output=True`` the second argument is softplus's output ``y = softplus(x, beta,
/// threshold)`` instead of ``x`` (for a layer that overwrote x): ``sigmoid(beta*x) = 1 -
/// exp(-beta*y) = -expm1(-beta*y)``, and the result is ``grad`` where ``beta*y > threshold``. For
/// ``y`` from relu_rs's softplus with a normal (not subnormal) ``y``, within 3 ULP of the exact
/// ``grad * sigmoid(beta*x)``, except just below the threshold, where ``beta*x <= threshold <
/// beta*y`` gives ``grad`` (a window of width ``log1p(exp(-threshold))/beta``). ``y = 0`` gives 0;
/// a subnormal ``y`` has lost digits the gradient cannot recover.
#[pyfunction]
#[pyo3(
    signature = (grad, x, beta = Real::Value(1.0), threshold = None, *, out = None, from_output = Flag::Value(false)),
    text_signature = "(grad, x, beta=1.0, threshold=None, *, out=None, from_output=False)"
)]
pub fn softplus_grad<'py>(
    grad: &Bound<'py, PyAny>,
    x: &Bound<'py, PyAny>,
    beta: Real,
    threshold: Option<Real>,
    out: Out<'py>,
    from_output: Flag,
) -> PyResult<Array<'py>> {
    let inputs = Inputs::of::<ops::softplus::Backward>(&[grad, x])?;
    let from_output = from_output.get("from_output")?;
    let (beta, threshold) = softplus_params(&beta, threshold.as_ref(), x.py())?;
    let op = ops::softplus::Backward {
        beta,
        threshold,
        from_output,
    };
    inputs.apply(&op, out)
}

/// Set the number of threads relu_rs uses: ``1 <= n <= 8 ×`` the CPUs available to the process.
///
/// ``None`` restores the default: the ``RELU_RS_NUM_THREADS`` environment variable if set (capped
/// the same way), else the number of CPUs available. Results do not depend on the thread count.
/// If the threads cannot be started, calls run on the calling thread (a RuntimeWarning says so
/// once) until the count changes.
#[pyfunction]
#[pyo3(signature = (n), text_signature = "(n)")]
pub fn set_num_threads(n: Option<Index>) -> PyResult<()> {
    let count = n.as_ref().map(thread_count).transpose()?;
    crate::parallel::set_num_threads(count);
    Ok(())
}

/// The number of threads relu_rs uses for large arrays.
#[pyfunction]
pub fn get_num_threads() -> usize {
    crate::parallel::num_threads()
}

/// Set how long, in microseconds, relu_rs's threads stay ready after a parallel call before they
/// sleep: ``0 <= us <= 100000``; ``0`` turns the waiting off.
///
/// Calls in a loop then find every thread awake instead of paying a wake-up (~15–20 µs) each,
/// as OpenMP and OpenBLAS threads do. A waiting thread spins on one flag and yields its core to
/// any other runnable thread every few µs; once the time passes with no new call it sleeps, so a
/// process that stops calling relu_rs stops using CPU. ``None`` restores the default: the
/// ``RELU_RS_SPIN_WAIT_US`` environment variable if set (capped the same way), else 500.
#[pyfunction]
#[pyo3(signature = (us), text_signature = "(us)")]
pub fn set_spin_wait(us: Option<Index>) -> PyResult<()> {
    let max = crate::parallel::MAX_SPIN_WAIT_US;
    let us = match us {
        None => None,
        Some(Index::Value(v)) if (0..=max as i64).contains(&v) => Some(v as u64),
        Some(Index::Value(v)) => {
            return Err(value_error(format!(
                "us must be between 0 and {max}, got {v}"
            )))
        }
        Some(Index::Huge(shown)) => {
            return Err(value_error(format!(
                "us must be between 0 and {max}, got {shown}"
            )))
        }
        Some(Index::Bool(_) | Index::NotInt(_)) => {
            return Err(type_error("us must be an integer or None"))
        }
    };
    crate::parallel::set_spin_wait_us(us);
    Ok(())
}

/// How long, in microseconds, relu_rs's threads stay ready after a parallel call.
#[pyfunction]
pub fn get_spin_wait() -> u64 {
    crate::parallel::spin_wait_us()
}

/// The SIMD path the kernels run on: ``"avx512"``, ``"avx2"``, ``"neon"`` or ``"scalar"``.
#[pyfunction]
pub fn simd_path() -> &'static str {
    crate::simd::active_path()
}

/// The dtypes the float functions compute in.
/// bfloat16 is listed whether or not ml_dtypes (which gives NumPy the type) is installed: the
/// list says what this build computes in.
pub const FLOAT_DTYPES: [Dtype; 4] = [Dtype::F16, Dtype::BF16, Dtype::F32, Dtype::F64];
