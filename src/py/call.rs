//! The one generic call every function goes through: inputs converted to their compute dtype and
//! checked, the result's target checked or made, a layout plan (what is read and written where,
//! decided before anything is written), the op run with the GIL released, the copy back.

use super::array::{
    copy_in, copy_into, data, descr, dtype_of, empty, empty_like, extent, is_direct, is_direct_any,
    is_writeable, np_asarray, overlaps, same_view, shape_repr, type_error, value_error, Array,
};
use crate::ops::{Activation, Arity, Dtype, Io, Order, Slices};
use numpy::{PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{PyRuntimeWarning, PyTypeError, PyValueError};
use pyo3::prelude::*;

/// `obj` as an ndarray (array-likes through `np.asarray`); a failed conversion keeps its
/// exception type and names the argument.
pub fn as_array<'py>(obj: &Bound<'py, PyAny>, name: &str) -> PyResult<Array<'py>> {
    if let Ok(a) = obj.cast::<PyUntypedArray>() {
        return Ok(a.clone());
    }
    let py = obj.py();
    match np_asarray(py)?.call1((obj,)) {
        Ok(a) => Ok(a.cast_into::<PyUntypedArray>()?),
        Err(e) if e.is_instance_of::<PyTypeError>(py) || e.is_instance_of::<PyValueError>(py) => {
            let msg = format!("{name} could not be converted to an array: {}", e.value(py));
            Err(PyErr::from_value(e.get_type(py).call1((msg,))?))
        }
        Err(e) => Err(e),
    }
}

/// The dtype an input of `a`'s dtype is computed in: its own float type; integers and bool in
/// float64, or kept where `keeps_ints` (relu).
fn compute_dtype(a: &Array<'_>, name: &str, keeps_ints: bool, accepts: &str) -> PyResult<Dtype> {
    let d = a.dtype();
    match (d.kind(), dtype_of(&d)) {
        (_, Some(Dtype::BF16)) => Ok(Dtype::BF16), // kind 'V': a user-registered dtype
        (b'f', Some(dtype)) => Ok(dtype),
        (b'f', None) => Err(type_error(format!(
            "{name} has dtype {d}; relu_rs supports float16, bfloat16, float32 and float64 \
             (cast long double to float64 first)"
        ))),
        (b'i' | b'u' | b'b', Some(dtype)) => Ok(if keeps_ints { dtype } else { Dtype::F64 }),
        _ => Err(type_error(format!(
            "{name} has unsupported dtype {d}; expected {accepts}"
        ))),
    }
}

/// `obj` as an ndarray of its compute dtype, converted only if needed.
fn input<'py>(
    obj: &Bound<'py, PyAny>,
    name: &str,
    keeps_ints: bool,
    accepts: &str,
) -> PyResult<(Array<'py>, Dtype)> {
    let a = as_array(obj, name)?;
    let dtype = compute_dtype(&a, name, keeps_ints, accepts)?;
    if super::array::is_native(&a, dtype) {
        return Ok((a, dtype));
    }
    let py = a.py();
    let cast = a.call_method1("astype", (descr(py, dtype)?,))?;
    Ok((cast.cast_into::<PyUntypedArray>()?, dtype))
}

/// `out` checked as the destination of a result of `shape` and `dtype` (any byte order).
pub fn check_out<'py>(
    out: &Bound<'py, PyAny>,
    shape: &[usize],
    dtype: Dtype,
    name: &str,
) -> PyResult<Array<'py>> {
    let Ok(o) = out.cast::<PyUntypedArray>() else {
        let got = out.get_type().name()?;
        return Err(type_error(format!(
            "{name} must be a numpy.ndarray, got {got}"
        )));
    };
    if o.shape() != shape {
        return Err(value_error(format!(
            "{name} has shape {} but the result has shape {}",
            shape_repr(o.shape()),
            shape_repr(shape)
        )));
    }
    if dtype_of(&o.dtype()) != Some(dtype) {
        return Err(type_error(format!(
            "{name} has dtype {} but the result has dtype {}",
            o.dtype(),
            dtype.name()
        )));
    }
    Ok(o.clone())
}

/// The converted inputs of a call: `[x]` or `[grad, x]`, one shape, one compute dtype.
pub struct Inputs<'py> {
    pub arrays: Vec<Array<'py>>,
    pub dtype: Dtype,
}

impl<'py> Inputs<'py> {
    /// Convert the arguments of `A` (x, or grad and x) and check that they agree.
    pub fn of<A: Activation>(args: &[&Bound<'py, PyAny>]) -> PyResult<Inputs<'py>> {
        match (A::ARITY, args) {
            (Arity::Unary, [x]) => {
                let (x, dtype) = input(x, A::X_NAME, A::KEEPS_INTS, A::ACCEPTS)?;
                Ok(Inputs {
                    arrays: vec![x],
                    dtype,
                })
            }
            (Arity::Binary, [grad, x]) => {
                let (g, gd) = input(grad, "grad", false, A::ACCEPTS)?;
                let (x, dtype) = input(x, "x", false, A::ACCEPTS)?;
                if g.shape() != x.shape() {
                    return Err(value_error(format!(
                        "grad has shape {} but x has shape {}",
                        shape_repr(g.shape()),
                        shape_repr(x.shape())
                    )));
                }
                if gd != dtype {
                    return Err(type_error(format!(
                        "grad has dtype {} but x has dtype {}; they must match",
                        gd.name(),
                        dtype.name()
                    )));
                }
                Ok(Inputs {
                    arrays: vec![g, x],
                    dtype,
                })
            }
            _ => Err(type_error("wrong number of array arguments")),
        }
    }

    /// x (the last input): its shape is the result's.
    pub fn x(&self) -> &Array<'py> {
        &self.arrays[self.arrays.len() - 1]
    }

    /// Where the result goes: `out` checked, or a new array like the first input.
    pub fn target(&self, out: Option<&Bound<'py, PyAny>>) -> PyResult<Array<'py>> {
        match out {
            Some(out) => check_out(out, self.x().shape(), self.dtype, "out"),
            None => empty_like(&self.arrays[0], self.dtype),
        }
    }

    /// Run `op` into `target`, with PReLU's contiguous α vector of the dtype read alongside and
    /// its α-gradient (a new C-contiguous array of the dtype) written. `false` when the result
    /// is empty (nothing ran).
    pub fn run<A: Activation>(
        &self,
        op: &A,
        target: &Array<'py>,
        alpha: Option<&Array<'py>>,
        alpha_grad: Option<&Array<'py>>,
    ) -> PyResult<bool> {
        if target.is_empty() {
            return Ok(false);
        }
        if !is_writeable(target) {
            return Err(value_error("out is read-only"));
        }
        let plan = Plan::new(&self.arrays, alpha, self.dtype, target)?;
        plan.execute(op, self.dtype, alpha_grad);
        if !plan.kernel_out.is(target) {
            copy_into(target, &plan.kernel_out)?;
        }
        if let Some(message) = crate::parallel::take_warning() {
            let py = target.py();
            let text = std::ffi::CString::new(message).unwrap_or_default();
            PyErr::warn(py, &py.get_type::<PyRuntimeWarning>(), &text, 1)?;
        }
        Ok(true)
    }

    /// The whole call for an op whose only result is its output array.
    pub fn apply<A: Activation>(
        &self,
        op: &A,
        out: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Array<'py>> {
        let target = self.target(out)?;
        self.run(op, &target, None, None)?;
        Ok(target)
    }
}

/// Where each input is read from.
enum Source<'py> {
    /// The input is the output itself (the very same view): the op runs in place.
    InPlace,
    Array(Array<'py>),
}

/// What the kernel reads and writes: contiguous, aligned, native arrays in one memory order,
/// no input overlapping the output unless it is the output (then it runs in place).
struct Plan<'py> {
    /// `target` itself when it is contiguous, aligned and native; else a new array copied into
    /// `target` afterwards.
    kernel_out: Array<'py>,
    sources: Vec<Source<'py>>,
    alpha: Option<Array<'py>>,
    order: Order,
}

impl<'py> Plan<'py> {
    fn new(
        inputs: &[Array<'py>],
        alpha: Option<&Array<'py>>,
        dtype: Dtype,
        target: &Array<'py>,
    ) -> PyResult<Plan<'py>> {
        let py = target.py();
        let direct = is_direct_any(target, dtype);
        let kernel_out = if direct {
            target.clone()
        } else {
            empty(py, dtype, target.shape(), Order::C)?
        };
        let mut in_place = [false; 2];
        for (same, a) in in_place.iter_mut().zip(inputs) {
            *same = same_view(a, target);
        }
        // kernel_out is contiguous; where it is both C and F (1-D, size-1 axes) follow the inputs
        let others_c = inputs
            .iter()
            .zip(in_place)
            .all(|(a, same)| same || a.is_c_contiguous());
        let order =
            if kernel_out.is_c_contiguous() && (!kernel_out.is_fortran_contiguous() || others_c) {
                Order::C
            } else {
                Order::F
            };
        let out_extent = extent(&kernel_out, dtype.size());
        let overlaps_out = |a: &Array<'_>| overlaps(extent(a, dtype.size()), out_extent);
        let mut sources = Vec::with_capacity(inputs.len());
        for (a, same) in inputs.iter().zip(in_place) {
            sources.push(if same && direct {
                Source::InPlace
            } else if same || overlaps_out(a) || !is_direct(a, dtype, order) {
                Source::Array(copy_in(a, dtype, order)?)
            } else {
                Source::Array(a.clone())
            });
        }
        let alpha = match alpha {
            Some(a) if overlaps_out(a) => Some(copy_in(a, dtype, Order::C)?),
            other => other.cloned(),
        };
        Ok(Plan {
            kernel_out,
            sources,
            alpha,
            order,
        })
    }

    /// Run `op` on the planned buffers, with the GIL released for large ones, in the default
    /// floating-point environment (parameter roundings included).
    fn execute<A: Activation>(&self, op: &A, dtype: Dtype, alpha_grad: Option<&Array<'py>>) {
        let mut inputs = [None, None];
        for (slot, source) in inputs.iter_mut().zip(&self.sources) {
            if let Source::Array(a) = source {
                *slot = Some(data(a).cast_const());
            }
        }
        let raw = RawIo {
            inputs,
            out: data(&self.kernel_out),
            alpha: self.alpha.as_ref().map(|a| (data(a).cast_const(), a.len())),
            alpha_grad: alpha_grad.map(|a| (data(a), a.len())),
            len: self.kernel_out.len(),
            order: self.order,
            dtype,
        };
        let run = move || {
            let _env = crate::fpenv::Standard::enter();
            // SAFETY: the plan made every buffer contiguous, aligned and native for `dtype`, with
            // `len` elements (α and its gradient: their own length), kept alive by `self` and the
            // caller for this call; no input overlaps the output (an input that is the output is
            // `None`; overlapping ones were copied); α does not overlap the output either, and the
            // α-gradient is a new array the caller made for this call.
            op.run(unsafe { raw.slices() })
        };
        if raw.len >= crate::parallel::GIL_RELEASE_THRESHOLD {
            self.kernel_out.py().detach(run)
        } else {
            run()
        }
    }
}

/// The plan's buffers as raw pointers, so the run can cross `Python::detach`.
#[derive(Clone, Copy)]
struct RawIo {
    inputs: [Option<*const u8>; 2],
    out: *mut u8,
    alpha: Option<(*const u8, usize)>,
    alpha_grad: Option<(*mut u8, usize)>,
    len: usize,
    order: Order,
    dtype: Dtype,
}

// SAFETY: the pointers address NumPy buffers that the calling thread keeps alive (it holds the
// arrays) until the run returns; they are only turned into slices inside that run.
unsafe impl Send for RawIo {}

impl RawIo {
    /// # Safety
    /// As in `Plan::execute`: each pointer addresses `len` (α: its length) valid, aligned
    /// elements of `T`, alive for `'a`, and the output overlaps no input or α.
    unsafe fn io<'a, T>(&self) -> Io<'a, T> {
        let len = self.len;
        // SAFETY: the caller's contract.
        unsafe {
            Io {
                inputs: self
                    .inputs
                    .map(|p| p.map(|p| std::slice::from_raw_parts(p.cast::<T>(), len))),
                out: std::slice::from_raw_parts_mut(self.out.cast::<T>(), len),
                alpha: match self.alpha {
                    Some((p, n)) => std::slice::from_raw_parts(p.cast::<T>(), n),
                    None => &[],
                },
                alpha_grad: match self.alpha_grad {
                    Some((p, n)) => std::slice::from_raw_parts_mut(p.cast::<T>(), n),
                    None => &mut [],
                },
                order: self.order,
            }
        }
    }

    /// # Safety
    /// As for [`RawIo::io`], with `T` the element type `dtype` names.
    unsafe fn slices<'a>(&self) -> Slices<'a> {
        // SAFETY: the caller's contract; each arm reads the type `dtype` names (bool as u8).
        unsafe {
            match self.dtype {
                Dtype::F16 => Slices::F16(self.io()),
                Dtype::BF16 => Slices::BF16(self.io()),
                Dtype::F32 => Slices::F32(self.io()),
                Dtype::F64 => Slices::F64(self.io()),
                Dtype::I8 => Slices::I8(self.io()),
                Dtype::I16 => Slices::I16(self.io()),
                Dtype::I32 => Slices::I32(self.io()),
                Dtype::I64 => Slices::I64(self.io()),
                Dtype::U8 | Dtype::Bool => Slices::U8(self.io()),
                Dtype::U16 => Slices::U16(self.io()),
                Dtype::U32 => Slices::U32(self.io()),
                Dtype::U64 => Slices::U64(self.io()),
            }
        }
    }
}
