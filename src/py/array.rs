//! NumPy arrays as the binding sees them: element type, layout, memory extent, and the few NumPy
//! calls the slow paths make (conversion, casts, copies).

use crate::ops::{Dtype, Order};
use half::f16;
use numpy::npyffi::{
    npy_intp, NpyTypes, NPY_ARRAY_ALIGNED, NPY_ARRAY_F_CONTIGUOUS, NPY_ARRAY_WRITEABLE, NPY_TYPES,
    PY_ARRAY_API,
};
use numpy::{PyArrayDescr, PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use std::sync::atomic::{AtomicI32, Ordering};

pub type Array<'py> = Bound<'py, PyUntypedArray>;

pub fn type_error(msg: impl Into<String>) -> PyErr {
    PyTypeError::new_err(msg.into())
}

pub fn value_error(msg: impl Into<String>) -> PyErr {
    PyValueError::new_err(msg.into())
}

/// A function of the `numpy` module, looked up once.
macro_rules! numpy_function {
    ($fn_name:ident, $name:literal) => {
        pub fn $fn_name(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
            static CELL: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
            CELL.import(py, "numpy", $name)
        }
    };
}
numpy_function!(np_asarray, "asarray");
numpy_function!(np_array, "array");
numpy_function!(np_copyto, "copyto");
numpy_function!(np_empty_like, "empty_like");
numpy_function!(np_errstate, "errstate");

/// bfloat16's NumPy dtype, recorded the first time an array of it is seen: NumPy has no bfloat16,
/// and ml_dtypes registers one at run time, so its type number is only known then (and relu_rs
/// never imports ml_dtypes). Its native-order descr, for making arrays of it.
static BF16_DESCR: PyOnceLock<Py<PyArrayDescr>> = PyOnceLock::new();
/// The recorded bfloat16 type number (-1: none seen yet), read without the descr.
static BF16_NUM: AtomicI32 = AtomicI32::new(-1);

/// Whether `descr`, a user-registered dtype, is bfloat16: the first such dtype named
/// `"bfloat16"` with 2-byte items (ml_dtypes' own) is recorded and recognised from then on by
/// its type number alone.
fn is_bfloat16(descr: &Bound<'_, PyArrayDescr>) -> bool {
    let num = descr.num();
    let known = BF16_NUM.load(Ordering::Relaxed);
    if known != -1 {
        return num == known;
    }
    let py = descr.py();
    let named = descr
        .getattr(pyo3::intern!(py, "name"))
        .and_then(|n| n.extract::<String>())
        .is_ok_and(|n| n == "bfloat16");
    if !(named && descr.itemsize() == 2) {
        return false;
    }
    // np.dtype(its scalar type): the native-order descr, whatever the byte order of this one
    let Ok(native) = PyArrayDescr::new(py, descr.typeobj()) else {
        return false;
    };
    let native = BF16_DESCR.get_or_init(py, || native.unbind());
    BF16_NUM.store(native.bind(py).num(), Ordering::Relaxed);
    num == native.bind(py).num()
}

/// The kernels' element type for a NumPy dtype (any byte order); `None` if they have none.
/// Decided from the type number (a field read), not the item size (a call into NumPy); a
/// user-registered dtype from its name the first time ([`is_bfloat16`]).
pub fn dtype_of(descr: &Bound<'_, PyArrayDescr>) -> Option<Dtype> {
    use std::os::raw::{c_int, c_long};
    const LONG_IS_64: bool = std::mem::size_of::<c_long>() == 8;
    let num = descr.num();
    let is = |t: NPY_TYPES| num == t as c_int;
    Some(if is(NPY_TYPES::NPY_HALF) {
        Dtype::F16
    } else if is(NPY_TYPES::NPY_FLOAT) {
        Dtype::F32
    } else if is(NPY_TYPES::NPY_DOUBLE) {
        Dtype::F64
    } else if is(NPY_TYPES::NPY_BYTE) {
        Dtype::I8
    } else if is(NPY_TYPES::NPY_SHORT) {
        Dtype::I16
    } else if is(NPY_TYPES::NPY_INT) || (is(NPY_TYPES::NPY_LONG) && !LONG_IS_64) {
        Dtype::I32
    } else if is(NPY_TYPES::NPY_LONGLONG) || (is(NPY_TYPES::NPY_LONG) && LONG_IS_64) {
        Dtype::I64
    } else if is(NPY_TYPES::NPY_UBYTE) {
        Dtype::U8
    } else if is(NPY_TYPES::NPY_USHORT) {
        Dtype::U16
    } else if is(NPY_TYPES::NPY_UINT) || (is(NPY_TYPES::NPY_ULONG) && !LONG_IS_64) {
        Dtype::U32
    } else if is(NPY_TYPES::NPY_ULONGLONG) || (is(NPY_TYPES::NPY_ULONG) && LONG_IS_64) {
        Dtype::U64
    } else if is(NPY_TYPES::NPY_BOOL) {
        Dtype::Bool
    } else if num >= NPY_TYPES::NPY_USERDEF as c_int && is_bfloat16(descr) {
        Dtype::BF16
    } else {
        return None;
    })
}

/// The native-byte-order NumPy dtype of `dtype`. bfloat16's is the one recorded when its first
/// array was seen ([`dtype_of`] is the only way to a `Dtype::BF16`); a TypeError if none was.
pub fn descr(py: Python<'_>, dtype: Dtype) -> PyResult<Bound<'_, PyArrayDescr>> {
    Ok(match dtype {
        Dtype::F16 => PyArrayDescr::of::<f16>(py),
        Dtype::BF16 => match BF16_DESCR.get(py) {
            Some(d) => d.bind(py).clone(),
            None => return Err(type_error("no bfloat16 array has been seen")),
        },
        Dtype::F32 => PyArrayDescr::of::<f32>(py),
        Dtype::F64 => PyArrayDescr::of::<f64>(py),
        Dtype::I8 => PyArrayDescr::of::<i8>(py),
        Dtype::I16 => PyArrayDescr::of::<i16>(py),
        Dtype::I32 => PyArrayDescr::of::<i32>(py),
        Dtype::I64 => PyArrayDescr::of::<i64>(py),
        Dtype::U8 => PyArrayDescr::of::<u8>(py),
        Dtype::U16 => PyArrayDescr::of::<u16>(py),
        Dtype::U32 => PyArrayDescr::of::<u32>(py),
        Dtype::U64 => PyArrayDescr::of::<u64>(py),
        Dtype::Bool => PyArrayDescr::of::<bool>(py),
    })
}

/// Whether `a` holds `dtype` in native byte order, so the kernels can read it as is.
pub fn is_native(a: &Array<'_>, dtype: Dtype) -> bool {
    let d = a.dtype();
    dtype_of(&d) == Some(dtype) && d.is_native_byteorder() != Some(false)
}

fn flags(a: &Array<'_>) -> i32 {
    // SAFETY: `a` is a live ndarray; reading its flags field is what NumPy's macros do.
    unsafe { (*a.as_array_ptr()).flags }
}

pub fn is_writeable(a: &Array<'_>) -> bool {
    flags(a) & NPY_ARRAY_WRITEABLE != 0
}

/// Whether the kernels can use `a`'s memory directly as a slice of `dtype` in `order`.
pub fn is_direct(a: &Array<'_>, dtype: Dtype, order: Order) -> bool {
    let contiguous = match order {
        Order::C => a.is_c_contiguous(),
        Order::F => a.is_fortran_contiguous(),
    };
    contiguous && flags(a) & NPY_ARRAY_ALIGNED != 0 && is_native(a, dtype)
}

/// Whether `a` is contiguous in some order, aligned and native: it can be written in place.
pub fn is_direct_any(a: &Array<'_>, dtype: Dtype) -> bool {
    (a.is_c_contiguous() || a.is_fortran_contiguous())
        && flags(a) & NPY_ARRAY_ALIGNED != 0
        && is_native(a, dtype)
}

pub fn data(a: &Array<'_>) -> *mut u8 {
    // SAFETY: as in `flags`.
    unsafe { (*a.as_array_ptr()).data.cast::<u8>() }
}

/// The bytes `a` (of `itemsize`-byte elements) can touch, `lo..hi`, as NumPy's
/// `get_array_memory_extents`; `None` if empty.
pub fn extent(a: &Array<'_>, itemsize: usize) -> Option<(usize, usize)> {
    if a.is_empty() {
        return None;
    }
    let (mut lo, mut hi) = (data(a) as usize as isize, data(a) as usize as isize);
    for (&n, &s) in a.shape().iter().zip(a.strides()) {
        let span = (n as isize - 1) * s;
        if span < 0 {
            lo += span;
        } else {
            hi += span;
        }
    }
    Some((lo as usize, hi as usize + itemsize))
}

/// Whether `a` and `b`, both of `dtype` (any byte order), may share memory: their extents
/// intersect (as `np.may_share_memory`).
pub fn may_overlap(a: &Array<'_>, b: &Array<'_>, dtype: Dtype) -> bool {
    overlaps(extent(a, dtype.size()), extent(b, dtype.size()))
}

/// Whether two extents intersect.
pub fn overlaps(a: Option<(usize, usize)>, b: Option<(usize, usize)>) -> bool {
    match (a, b) {
        (Some((alo, ahi)), Some((blo, bhi))) => alo < bhi && blo < ahi,
        _ => false,
    }
}

/// Whether `a` and `b` are the same view of the same memory, element for element.
pub fn same_view(a: &Array<'_>, b: &Array<'_>) -> bool {
    a.is(b)
        || (data(a) == data(b)
            && a.shape() == b.shape()
            && a.strides() == b.strides()
            && a.dtype().is_equiv_to(&b.dtype()))
}

/// A shape as Python prints a tuple: `(3, 4)`, `(3,)`, `()`.
pub fn shape_repr(shape: &[usize]) -> String {
    match shape {
        [n] => format!("({n},)"),
        _ => {
            let parts: Vec<String> = shape.iter().map(usize::to_string).collect();
            format!("({})", parts.join(", "))
        }
    }
}

/// A new, uninitialised array; the caller writes every element before Python sees it. A failed
/// allocation is NumPy's MemoryError.
pub fn empty<'py>(
    py: Python<'py>,
    dtype: Dtype,
    shape: &[usize],
    order: Order,
) -> PyResult<Array<'py>> {
    let mut dims: Vec<npy_intp> = shape.iter().map(|&n| n as npy_intp).collect();
    let fortran = match order {
        Order::C => 0,
        Order::F => NPY_ARRAY_F_CONTIGUOUS,
    };
    let descr = descr(py, dtype)?;
    // SAFETY: the NumPy C API with a valid type object, a new reference to a dtype (stolen by
    // the call), `dims.len()` dimensions, no strides or data (NumPy allocates); a null result is
    // a raised Python error. The elements are written in full before Python sees them (bool as
    // bytes 0 and 1 by the kernels, or by a NumPy copy).
    unsafe {
        let ptr = PY_ARRAY_API.PyArray_NewFromDescr(
            py,
            numpy::npyffi::get_type_object(py, NpyTypes::PyArray_Type),
            descr.into_dtype_ptr(),
            dims.len() as std::os::raw::c_int,
            dims.as_mut_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            fortran,
            std::ptr::null_mut(),
        );
        Ok(Bound::from_owned_ptr_or_err(py, ptr)?.cast_into_unchecked::<PyUntypedArray>())
    }
}

/// A new array of `dtype` with `a`'s shape, for a result: NumPy's `empty_like` (its subclass and
/// memory order kept), made directly for a plain contiguous ndarray.
pub fn empty_like<'py>(a: &Array<'py>, dtype: Dtype) -> PyResult<Array<'py>> {
    let py = a.py();
    if a.get_type().is(py.get_type::<PyUntypedArray>()) {
        if a.is_c_contiguous() {
            return empty(py, dtype, a.shape(), Order::C);
        }
        if a.is_fortran_contiguous() {
            return empty(py, dtype, a.shape(), Order::F);
        }
    }
    let made = np_empty_like(py)?.call1((a, descr(py, dtype)?))?;
    Ok(made.cast_into::<PyUntypedArray>()?)
}

/// A fresh copy of `a` as `dtype`, contiguous in `order` (aligned, native).
pub fn copy_in<'py>(a: &Array<'py>, dtype: Dtype, order: Order) -> PyResult<Array<'py>> {
    let py = a.py();
    let order = match order {
        Order::C => "C",
        Order::F => "F",
    };
    let kwargs = [
        ("dtype", descr(py, dtype)?.into_any()),
        ("order", order.into_pyobject(py)?.into_any()),
    ];
    let copied = np_array(py)?.call(
        (a,),
        Some(&pyo3::types::IntoPyDict::into_py_dict(kwargs, py)?),
    )?;
    Ok(copied.cast_into::<PyUntypedArray>()?)
}

/// `dst[...] = src` (NumPy's copyto: any layouts, byte order converted).
pub fn copy_into(dst: &Array<'_>, src: &Array<'_>) -> PyResult<()> {
    np_copyto(dst.py())?.call1((dst, src))?;
    Ok(())
}
