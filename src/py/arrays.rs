//! Array extraction, layout checks and the one place Rust-side errors are turned into Python ones.
//!
//! The Python layer (`relu_rs/_functional.py`) has already converted array-likes, chosen the dtype
//! and checked shapes. Each binding first tries the zero-copy path: every array contiguous in one
//! memory order, no partial overlap. When that does not hold it writes nothing and returns
//! `False`, and Python plans copies and calls again. These checks are also the last line of
//! defence, so that no misuse of the private module can panic or read out of bounds.

use numpy::{
    BorrowError, Element, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyReadwriteArrayDyn,
    PyUntypedArrayMethods,
};
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

/// Whether `a` and `out` are both contiguous in the same memory order, so that one flat index
/// means the same element in both. A different shape is an error; a different layout is not
/// (the caller falls back to a planned, copying path).
pub fn same_layout<T: Element>(
    a: &Bound<'_, PyArrayDyn<T>>,
    name: &str,
    out: &Bound<'_, PyArrayDyn<T>>,
) -> PyResult<bool> {
    if a.shape() != out.shape() {
        return Err(value_error(format!(
            "{name} has shape {:?} but out has shape {:?}",
            a.shape(),
            out.shape()
        )));
    }
    let both_c = a.is_c_contiguous() && out.is_c_contiguous();
    let both_f = a.is_fortran_contiguous() && out.is_fortran_contiguous();
    Ok(both_c || both_f)
}

/// Borrow `a` read-only. `None` when it overlaps an array already borrowed for writing (the
/// caller falls back to a path that copies the overlapping input first).
pub fn borrow_readonly<'py, T: Element>(
    a: &Bound<'py, PyArrayDyn<T>>,
    name: &str,
) -> PyResult<Option<PyReadonlyArrayDyn<'py, T>>> {
    match a.try_readonly() {
        Ok(r) => Ok(Some(r)),
        Err(BorrowError::AlreadyBorrowed) => Ok(None),
        Err(e) => Err(borrow_error(name, e)),
    }
}

/// Borrow `a` for writing: a read-only array is a ValueError naming it; an overlap with an
/// array already borrowed gives `None` (fall back to the copying path).
pub fn borrow_readwrite<'py, T: Element>(
    a: &Bound<'py, PyArrayDyn<T>>,
    name: &str,
) -> PyResult<Option<PyReadwriteArrayDyn<'py, T>>> {
    match a.try_readwrite() {
        Ok(w) => Ok(Some(w)),
        Err(BorrowError::NotWriteable) => Err(value_error(format!("{name} is read-only"))),
        Err(BorrowError::AlreadyBorrowed) => Ok(None),
        Err(e) => Err(borrow_error(name, e)),
    }
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
