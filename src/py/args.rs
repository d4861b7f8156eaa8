//! Scalar arguments: extracted without failing, so each is checked (and its error raised) in the
//! order the functions document, naming the argument.

use super::array::{dtype_of, type_error, value_error};
use crate::ops::relu::MaxValue;
use crate::ops::Dtype;
use numpy::{PyArrayDescr, PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::PyOverflowError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyFloat, PyType};

/// `type(obj).__name__`.
fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "object".into())
}

fn repr(obj: &Bound<'_, PyAny>) -> String {
    obj.repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// A real scalar argument (a Python or NumPy real number, or a 0-d real array), or what its
/// error will say.
pub enum Real {
    Value(f64),
    NotReal(String),
}

/// `FromPyObject` for an argument type whose `classify` records either the value or what its
/// error will say: extraction itself never fails on a bad value.
macro_rules! lenient_argument {
    ($ty:ty) => {
        impl<'a, 'py> FromPyObject<'a, 'py> for $ty {
            type Error = PyErr;
            fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<$ty> {
                <$ty>::classify(&obj)
            }
        }
    };
}
lenient_argument!(Real);
lenient_argument!(Index);

/// A bfloat16 scalar or 0-d array (ml_dtypes' scalar type is not a `numbers.Real`).
fn is_bfloat16_value(obj: &Bound<'_, PyAny>) -> bool {
    obj.getattr(pyo3::intern!(obj.py(), "dtype"))
        .ok()
        .and_then(|d| d.cast_into::<PyArrayDescr>().ok())
        .is_some_and(|d| dtype_of(&d) == Some(Dtype::BF16))
        && obj.cast::<PyUntypedArray>().map_or(true, |a| a.ndim() == 0)
}

impl Real {
    fn classify(obj: &Bound<'_, PyAny>) -> PyResult<Real> {
        if let Ok(f) = obj.cast::<PyFloat>() {
            return Ok(Real::Value(f.value())); // float and its subclasses (np.float64)
        }
        static NUMBERS_REAL: PyOnceLock<Py<PyType>> = PyOnceLock::new();
        let py = obj.py();
        let real = !obj.is_instance_of::<PyBool>()
            && (obj.is_instance(NUMBERS_REAL.import(py, "numbers", "Real")?)?
                || obj.cast::<PyUntypedArray>().is_ok_and(|a| {
                    a.ndim() == 0 && matches!(a.dtype().kind(), b'f' | b'i' | b'u')
                })
                || is_bfloat16_value(obj));
        if real {
            return match obj.extract::<f64>() {
                Ok(v) => Ok(Real::Value(v)),
                // an int beyond f64's range: an infinity, refused or clipped as such
                Err(e) if e.is_instance_of::<PyOverflowError>(py) => {
                    let negative = obj.lt(0)?;
                    Ok(Real::Value(if negative {
                        f64::NEG_INFINITY
                    } else {
                        f64::INFINITY
                    }))
                }
                Err(e) => Err(e),
            };
        }
        Ok(Real::NotReal(format!("{} {}", type_name(obj), repr(obj))))
    }

    /// The value; a TypeError naming the argument if it is not a real number.
    pub fn get(&self, name: &str) -> PyResult<f64> {
        match self {
            Real::Value(v) => Ok(*v),
            Real::NotReal(what) => Err(type_error(format!(
                "{name} must be a real number, got {what}"
            ))),
        }
    }

    /// The value, unrounded; a ValueError unless it rounds (to nearest) to a finite value of
    /// `dtype`. (The kernels round it themselves, in the default floating-point environment.)
    pub fn finite_in(&self, dtype: Dtype, name: &str, py: Python<'_>) -> PyResult<f64> {
        let v = self.get(name)?;
        if v.abs() < dtype.overflow_threshold() {
            return Ok(v);
        }
        let shown = repr(PyFloat::new(py, v).as_any());
        let overflow = if v.is_finite() {
            format!(" (it overflows {})", dtype.name())
        } else {
            String::new()
        };
        Err(value_error(format!(
            "{name} must be finite, got {shown}{overflow}"
        )))
    }
}

/// A real argument that must be finite and > 0 (softplus's β, a quantization scale).
pub fn positive(v: &Real, name: &str, py: Python<'_>) -> PyResult<f64> {
    let v = v.get(name)?;
    if !(v.is_finite() && v > 0.0) {
        let shown = repr(PyFloat::new(py, v).as_any());
        return Err(value_error(format!(
            "{name} must be finite and > 0, got {shown}"
        )));
    }
    Ok(v)
}

/// A quantization zero point for q of `dtype` (int8 or uint8): an integer in its range.
pub fn zero_point(z: &Index, dtype: Dtype, name: &str) -> PyResult<i32> {
    let (lo, hi) = match dtype {
        Dtype::I8 => (i8::MIN as i64, i8::MAX as i64),
        _ => (u8::MIN as i64, u8::MAX as i64),
    };
    let out_of_range = |shown: &str| {
        value_error(format!(
            "{name} must be an integer from {lo} to {hi} for q of dtype {}, got {shown}",
            dtype.name()
        ))
    };
    match z {
        Index::Value(v) if (lo..=hi).contains(v) => Ok(*v as i32),
        Index::Value(v) => Err(out_of_range(&v.to_string())),
        Index::Huge(shown) => Err(out_of_range(shown)),
        Index::Bool(what) | Index::NotInt(what) => {
            Err(type_error(format!("{name} must be an integer, got {what}")))
        }
    }
}

/// softplus's β (finite, > 0) and threshold (None: +∞; not NaN).
pub fn softplus_params(
    beta: &Real,
    threshold: Option<&Real>,
    py: Python<'_>,
) -> PyResult<(f64, f64)> {
    let b = positive(beta, "beta", py)?;
    let Some(threshold) = threshold else {
        return Ok((b, f64::INFINITY));
    };
    let t = threshold.get("threshold")?;
    if t.is_nan() {
        return Err(value_error(
            "threshold must not be NaN (use None for no cutoff)",
        ));
    }
    Ok((b, t))
}

/// relu's `max_value` for x computed in `dtype`: `None` (given as None or +∞) is no clip. A real
/// number ≥ 0, not NaN; for integer x an integer, taken exactly (a Python or NumPy int beyond
/// 2^53 keeps every digit). For bool x only 0 changes anything (every True becomes False).
pub fn max_value(obj: Option<&Bound<'_, PyAny>>, dtype: Dtype) -> PyResult<Option<MaxValue>> {
    let Some(obj) = obj else {
        return Ok(None);
    };
    let v = Real::classify(obj)?.get("max_value")?;
    if v.is_nan() || v < 0.0 {
        return Err(value_error(format!(
            "max_value must be a number >= 0 (or None), got {}",
            repr(obj)
        )));
    }
    if v == f64::INFINITY {
        return Ok(None);
    }
    // a Python or NumPy int exactly (rounded once below, for float x); floats through their value.
    // As a Python int first: pyo3's u128 extraction shifts the object itself, and NumPy 1.x turns
    // `np.uint64(v) >> 64` into a float, which made np.uint64(2**64 - 2) a clip at 2**64.
    let exact = obj
        .call_method0("__index__")
        .ok()
        .and_then(|i| i.extract::<u128>().ok());
    if dtype.is_float() {
        return Ok(Some(match exact {
            Some(i) => MaxValue::Int(i),
            None => MaxValue::Float(v + 0.0), // -0.0 clips to +0.0
        }));
    }
    if v.fract() != 0.0 {
        return Err(value_error(format!(
            "max_value must be an integer for x of dtype {}, got {}",
            dtype.name(),
            repr(obj)
        )));
    }
    // an integral float through its value (beyond u128, saturated: no integer dtype reaches it)
    let m = exact.unwrap_or(v as u128);
    Ok(match dtype {
        Dtype::Bool if m >= 1 => None,
        _ => Some(MaxValue::Int(m)),
    })
}

/// A flag argument (a Python or NumPy bool), or what its error will say.
pub enum Flag {
    Value(bool),
    NotBool(String),
}
lenient_argument!(Flag);

impl Flag {
    fn classify(obj: &Bound<'_, PyAny>) -> PyResult<Flag> {
        static NUMPY_BOOL: PyOnceLock<Py<PyType>> = PyOnceLock::new();
        if obj.is_instance_of::<PyBool>()
            || obj.is_instance(NUMPY_BOOL.import(obj.py(), "numpy", "bool_")?)?
        {
            return Ok(Flag::Value(obj.is_truthy()?));
        }
        Ok(Flag::NotBool(format!("{} {}", type_name(obj), repr(obj))))
    }

    /// The value; a TypeError naming the argument if it is not a bool.
    pub fn get(&self, name: &str) -> PyResult<bool> {
        match self {
            Flag::Value(b) => Ok(*b),
            Flag::NotBool(what) => Err(type_error(format!("{name} must be a bool, got {what}"))),
        }
    }
}

/// An integer argument (`operator.index`, bools refused), or what its error will say.
pub enum Index {
    Value(i64),
    /// Too large for i64: out of range wherever it is used.
    Huge(String),
    /// A bool (its repr): refused, though Python counts it as an integer.
    Bool(String),
    NotInt(String),
}

impl Index {
    fn classify(obj: &Bound<'_, PyAny>) -> PyResult<Index> {
        static NUMPY_BOOL: PyOnceLock<Py<PyType>> = PyOnceLock::new();
        if obj.is_instance_of::<PyBool>()
            || obj.is_instance(NUMPY_BOOL.import(obj.py(), "numpy", "bool_")?)?
        {
            return Ok(Index::Bool(repr(obj)));
        }
        match obj.extract::<i64>() {
            Ok(v) => Ok(Index::Value(v)),
            Err(e) if e.is_instance_of::<PyOverflowError>(obj.py()) => Ok(Index::Huge(repr(obj))),
            Err(_) => Ok(Index::NotInt(type_name(obj))),
        }
    }
}

/// PReLU's channel axis for an `ndim`-dimensional x (named `x_name` in messages): in `0..ndim`,
/// and as given (for messages).
pub fn channel_axis(axis: &Index, ndim: usize, x_name: &str) -> PyResult<(usize, i64)> {
    let nd = ndim as i64;
    match axis {
        Index::Value(ax) if -nd <= *ax && *ax < nd => Ok((ax.rem_euclid(nd.max(1)) as usize, *ax)),
        Index::Value(ax) => Err(out_of_bounds(&ax.to_string(), ndim, x_name)),
        Index::Huge(shown) => Err(out_of_bounds(shown, ndim, x_name)),
        Index::Bool(what) | Index::NotInt(what) => {
            Err(type_error(format!("axis must be an integer, got {what}")))
        }
    }
}

fn out_of_bounds(axis: &str, ndim: usize, x_name: &str) -> PyErr {
    value_error(format!(
        "axis {axis} is out of bounds for {x_name} with {ndim} dimension(s)"
    ))
}

/// set_num_threads's n: an integer from 1 to [`crate::parallel::max_threads`] (8 × the CPUs).
pub fn thread_count(n: &Index) -> PyResult<usize> {
    let max = crate::parallel::max_threads();
    match n {
        Index::Value(v) if *v >= 1 && *v as u64 <= max as u64 => Ok(*v as usize),
        Index::Value(v) if *v >= 1 => Err(value_error(format!(
            "n must be at most {max} (8 × the CPUs available), got {v}"
        ))),
        Index::Value(v) => Err(value_error(format!("n must be >= 1, got {v}"))),
        Index::Huge(shown) if shown.starts_with('-') => {
            Err(value_error(format!("n must be >= 1, got {shown}")))
        }
        Index::Huge(shown) => Err(value_error(format!(
            "n must be at most {max} (8 × the CPUs available), got {shown}"
        ))),
        Index::Bool(_) => Err(type_error("n must be an integer >= 1 or None, got a bool")),
        Index::NotInt(what) => Err(type_error(format!(
            "n must be an integer >= 1 or None, got {what}"
        ))),
    }
}
