//! Array extraction, layout checks and the one place Rust-side errors are turned into Python ones.
//!
//! The Python layer (`relu_rs/_functional.py`) has already converted array-likes, chosen the dtype,
//! checked shapes and `out=`, and copied anything that partially overlaps. What reaches here are
//! ndarrays of one native dtype, one shape and one contiguous memory order; these checks are the
//! last line of defence, so that no misuse of the private module can panic or read out of bounds.

use numpy::{Element, PyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

pub fn type_error(msg: impl Into<String>) -> PyErr {
    PyTypeError::new_err(msg.into())
}

pub fn value_error(msg: impl Into<String>) -> PyErr {
    PyValueError::new_err(msg.into())
}

/// `obj` as an ndarray of element type `T`, or a TypeError naming `name`.
pub fn typed<'a, 'py, T: Element>(
    obj: &'a Bound<'py, PyAny>,
    name: &str,
) -> PyResult<&'a Bound<'py, PyArrayDyn<T>>> {
    obj.cast::<PyArrayDyn<T>>().map_err(|_| {
        let got = obj
            .getattr("dtype")
            .map(|d| d.to_string())
            .unwrap_or_else(|_| obj.get_type().to_string());
        type_error(format!(
            "{name} must be an ndarray of dtype {}, got {got}",
            std::any::type_name::<T>()
        ))
    })
}

/// Check that `a` has `out`'s shape and that both are contiguous in the same memory order, so the
/// flat index means the same element in both.
pub fn check_same_layout<T: Element>(
    a: &Bound<'_, PyArrayDyn<T>>,
    name: &str,
    out: &Bound<'_, PyArrayDyn<T>>,
) -> PyResult<()> {
    if a.shape() != out.shape() {
        return Err(value_error(format!(
            "{name} has shape {:?} but out has shape {:?}",
            a.shape(),
            out.shape()
        )));
    }
    let both_c = a.is_c_contiguous() && out.is_c_contiguous();
    let both_f = a.is_fortran_contiguous() && out.is_fortran_contiguous();
    if !(both_c || both_f) {
        return Err(value_error(format!(
            "{name} and out must both be C-contiguous or both F-contiguous"
        )));
    }
    Ok(())
}

/// Run `f` with the GIL released when the work is large enough for that to pay.
pub fn maybe_detach<R: Send>(py: Python<'_>, n: usize, f: impl FnOnce() -> R + Send) -> R {
    if n >= crate::parallel::GIL_RELEASE_THRESHOLD {
        py.detach(f)
    } else {
        f()
    }
}

/// Borrow-check failures and non-contiguous data become ValueErrors naming the argument.
pub fn borrow_error(name: &str, err: impl std::fmt::Display) -> PyErr {
    value_error(format!("{name} cannot be borrowed: {err}"))
}
