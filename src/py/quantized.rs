//! The `quantized` submodule: activations on 8-bit affine-quantized arrays (real = (q −
//! zero_point)·scale). Each function checks its arguments, builds the op (its lookup tables) and
//! applies it through the generic call, so layouts, `out=`, in place and overlap are handled
//! as for every other function. Their doc comments are the Python docstrings.

use super::args::{self, Index, Real};
use super::array::{type_error, value_error, Array};
use super::call::Inputs;
use super::functions::PreluAlpha;
use crate::kernels::quantized::Quantization;
use crate::ops::prelu::ChannelRuns;
use crate::ops::quantized::{Forward, Function};
use crate::ops::Dtype;
use numpy::{PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::prelude::*;

type Out<'py> = Option<&'py Bound<'py, PyAny>>;

/// q converted and checked (int8 or uint8), and the quantization parameters checked against its
/// dtype: scales finite and > 0, zero points integers in its range; the output's default to the
/// input's.
struct Quantized<'py> {
    inputs: Inputs<'py>,
    params: Quantization,
}

impl<'py> Quantized<'py> {
    fn new(
        q: &Bound<'py, PyAny>,
        scale: &Real,
        zero_point: &Index,
        out_scale: Option<&Real>,
        out_zero_point: Option<&Index>,
    ) -> PyResult<Quantized<'py>> {
        let py = q.py();
        let inputs = Inputs::of::<Forward>(&[q])?;
        let dtype = inputs.dtype;
        if !matches!(dtype, Dtype::I8 | Dtype::U8) {
            return Err(type_error(format!(
                "q has dtype {}; quantized functions take int8 or uint8",
                inputs.x().dtype()
            )));
        }
        let scale = args::positive(scale, "scale", py)?;
        let zero_point = args::zero_point(zero_point, dtype, "zero_point")?;
        let out_scale = match out_scale {
            Some(s) => args::positive(s, "out_scale", py)?,
            None => scale,
        };
        let out_zero_point = match out_zero_point {
            Some(z) => args::zero_point(z, dtype, "out_zero_point")?,
            None => zero_point,
        };
        Ok(Quantized {
            inputs,
            params: Quantization {
                scale,
                zero_point,
                out_scale,
                out_zero_point,
            },
        })
    }

    /// The whole call: `function` on every element, each channel's run as `runs` says.
    fn apply(
        &self,
        function: &Function,
        runs: Option<ChannelRuns>,
        out: Out<'py>,
    ) -> PyResult<Array<'py>> {
        let n = self.inputs.x().len().max(1);
        let runs = runs.unwrap_or(ChannelRuns {
            c_order: n,
            f_order: n,
        });
        let op = Forward::new(self.inputs.dtype, function, &self.params, runs);
        self.inputs.apply(&op, out)
    }
}

/// Quantized ReLU: ``max(0, x)`` on ``x = (q - zero_point) * scale``, requantized.
///
/// Each element of the result is ``clip(round(max(0, (q - zero_point) * scale) / out_scale) +
/// out_zero_point, lo, hi)`` with ``round`` half to even and ``[lo, hi]`` the range of ``q``'s
/// dtype (-128..127 or 0..255), computed exactly from the given float64 values: it equals the
/// exact rational result, ties included. With the default ``out_scale``/``out_zero_point`` (the
/// input's) it is ``max(q, zero_point)``.
///
/// Parameters
/// ----------
/// q : array_like of int8 or uint8
///     Quantized input of any shape and layout; the result has its dtype.
/// scale : real
///     The input's scale, finite and > 0.
/// zero_point : int
///     The input's zero point, within the range of ``q``'s dtype.
/// out_scale, out_zero_point : real, int, optional
///     The output's quantization; ``None`` (the default) takes the input's.
/// out : ndarray, optional
///     Writeable array of ``q``'s shape and dtype to write into (may be ``q`` itself).
///
/// Raises
/// ------
/// TypeError
///     ``q`` is not int8 or uint8 (bool included), a scale is not a real number or a zero point
///     not an integer, or ``out`` is not an ndarray or has the wrong dtype.
/// ValueError
///     A scale is not finite and > 0, a zero point is outside the dtype's range, or ``out`` has
///     the wrong shape or is read-only. Nothing is written on any error.
#[pyfunction]
#[pyo3(
    signature = (q, scale, zero_point, *, out_scale = None, out_zero_point = None, out = None),
    text_signature = "(q, scale, zero_point, *, out_scale=None, out_zero_point=None, out=None)"
)]
pub fn relu<'py>(
    q: &Bound<'py, PyAny>,
    scale: Real,
    zero_point: Index,
    out_scale: Option<Real>,
    out_zero_point: Option<Index>,
    out: Out<'py>,
) -> PyResult<Array<'py>> {
    let call = Quantized::new(
        q,
        &scale,
        &zero_point,
        out_scale.as_ref(),
        out_zero_point.as_ref(),
    )?;
    call.apply(&Function::LeakyRelu { alpha: vec![0.0] }, None, out)
}

/// Quantized leaky ReLU: ``x if x > 0 else alpha * x`` on ``x = (q - zero_point) * scale``,
/// requantized.
///
/// Each element of the result is ``clip(round(f((q - zero_point) * scale) / out_scale) +
/// out_zero_point, lo, hi)`` with ``f`` the leaky ReLU, ``round`` half to even and ``[lo, hi]``
/// the range of ``q``'s dtype, computed exactly from the given float64 values (``alpha``
/// included, not rounded to anything): it equals the exact rational result, ties included.
///
/// Parameters
/// ----------
/// q : array_like of int8 or uint8
///     Quantized input of any shape and layout; the result has its dtype.
/// alpha : real
///     Slope for negative inputs: any finite value (0 is relu, -1 is abs).
/// scale : real
///     The input's scale, finite and > 0.
/// zero_point : int
///     The input's zero point, within the range of ``q``'s dtype.
/// out_scale, out_zero_point : real, int, optional
///     The output's quantization; ``None`` (the default) takes the input's.
/// out : ndarray, optional
///     Writeable array of ``q``'s shape and dtype to write into (may be ``q`` itself).
///
/// Raises
/// ------
/// TypeError
///     As :func:`relu`, or ``alpha`` is not a real number.
/// ValueError
///     As :func:`relu`, or ``alpha`` is not finite. Nothing is written on any error.
#[pyfunction]
#[pyo3(
    signature = (q, alpha, scale, zero_point, *, out_scale = None, out_zero_point = None, out = None),
    text_signature = "(q, alpha, scale, zero_point, *, out_scale=None, out_zero_point=None, out=None)"
)]
pub fn leaky_relu<'py>(
    q: &Bound<'py, PyAny>,
    alpha: Real,
    scale: Real,
    zero_point: Index,
    out_scale: Option<Real>,
    out_zero_point: Option<Index>,
    out: Out<'py>,
) -> PyResult<Array<'py>> {
    let call = Quantized::new(
        q,
        &scale,
        &zero_point,
        out_scale.as_ref(),
        out_zero_point.as_ref(),
    )?;
    let alpha = alpha.finite_in(Dtype::F64, "alpha", q.py())?;
    call.apply(&Function::LeakyRelu { alpha: vec![alpha] }, None, out)
}

/// Quantized parametric ReLU: ``x if x > 0 else alpha[c] * x`` on ``x = (q - zero_point) *
/// scale``, with ``c`` the index along ``axis``, requantized.
///
/// ``alpha`` is one shared value (a scalar or size-1 array; ``axis`` is then ignored) or a 1-D
/// array of length ``q.shape[axis]``, taken as float64 exactly. Each element is
/// ``clip(round(f((q - zero_point) * scale) / out_scale) + out_zero_point, lo, hi)``, ``round``
/// half to even, ``[lo, hi]`` the range of ``q``'s dtype, computed exactly as in
/// :func:`leaky_relu`.
///
/// Parameters
/// ----------
/// q : array_like of int8 or uint8
///     Quantized input of any shape and layout; the result has its dtype.
/// alpha : array_like
///     The slopes for negative inputs: one, or one per channel; every value finite.
/// scale, zero_point, out_scale, out_zero_point, out
///     As in :func:`relu`.
/// axis : int, optional
///     The channel axis (default 1: NCHW and ``(N, C)``; -1 for channels last).
///
/// Raises
/// ------
/// TypeError
///     As :func:`relu`, or ``alpha`` has a non-real dtype, or ``axis`` is not an integer.
/// ValueError
///     As :func:`relu`, or ``alpha`` is not finite, not 1-D with ``q.shape[axis]`` values (nor of
///     size 1), or ``axis`` is out of bounds. Nothing is written on any error.
#[pyfunction]
#[pyo3(
    signature = (q, alpha, scale, zero_point, *, axis = Index::Value(1), out_scale = None, out_zero_point = None, out = None),
    text_signature = "(q, alpha, scale, zero_point, *, axis=1, out_scale=None, out_zero_point=None, out=None)"
)]
#[allow(clippy::too_many_arguments)] // the Python signature
pub fn prelu<'py>(
    q: &Bound<'py, PyAny>,
    alpha: &Bound<'py, PyAny>,
    scale: Real,
    zero_point: Index,
    axis: Index,
    out_scale: Option<Real>,
    out_zero_point: Option<Index>,
    out: Out<'py>,
) -> PyResult<Array<'py>> {
    let call = Quantized::new(
        q,
        &scale,
        &zero_point,
        out_scale.as_ref(),
        out_zero_point.as_ref(),
    )?;
    let alpha = PreluAlpha::new(alpha, call.inputs.x(), "q", Dtype::F64, &axis)?;
    let values = alpha.vector.cast::<PyArrayDyn<f64>>()?.to_vec()?;
    if let Some((i, v)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(value_error(format!(
            "alpha must be finite, got {v} at index {i}"
        )));
    }
    let function = Function::LeakyRelu { alpha: values };
    call.apply(&function, Some(alpha.runs), out)
}

/// Quantized softplus: ``log(1 + exp(beta * x)) / beta`` on ``x = (q - zero_point) * scale``,
/// requantized.
///
/// Each element of the result is ``clip(round(softplus(x) / out_scale) + out_zero_point, lo,
/// hi)`` with ``round`` to nearest (a transcendental value is never a tie) and ``[lo, hi]`` the
/// range of ``q``'s dtype: correctly rounded from the given float64 values. Each of the 256 table
/// entries is decided from bounds, then a float64 evaluation with an error bound, then, near a
/// rounding boundary, a double-double one (docs/accuracy.md). ``out_scale`` defaults to the
/// input's ``scale``, though softplus is never below 0: a uint8 output usually wants its own.
///
/// Parameters
/// ----------
/// q : array_like of int8 or uint8
///     Quantized input of any shape and layout; the result has its dtype.
/// scale : real
///     The input's scale, finite and > 0.
/// zero_point : int
///     The input's zero point, within the range of ``q``'s dtype.
/// beta : real, optional
///     Finite and > 0 (default 1).
/// out_scale, out_zero_point : real, int, optional
///     The output's quantization; ``None`` (the default) takes the input's.
/// out : ndarray, optional
///     Writeable array of ``q``'s shape and dtype to write into (may be ``q`` itself).
///
/// Raises
/// ------
/// TypeError
///     As :func:`relu`, or ``beta`` is not a real number.
/// ValueError
///     As :func:`relu`, or ``beta`` is not finite and > 0. Nothing is written on any error.
#[pyfunction]
#[pyo3(
    signature = (q, scale, zero_point, *, beta = Real::Value(1.0), out_scale = None, out_zero_point = None, out = None),
    text_signature = "(q, scale, zero_point, *, beta=1.0, out_scale=None, out_zero_point=None, out=None)"
)]
pub fn softplus<'py>(
    q: &Bound<'py, PyAny>,
    scale: Real,
    zero_point: Index,
    beta: Real,
    out_scale: Option<Real>,
    out_zero_point: Option<Index>,
    out: Out<'py>,
) -> PyResult<Array<'py>> {
    let call = Quantized::new(
        q,
        &scale,
        &zero_point,
        out_scale.as_ref(),
        out_zero_point.as_ref(),
    )?;
    let beta = args::positive(&beta, "beta", q.py())?;
    call.apply(&Function::Softplus { beta }, None, out)
}
