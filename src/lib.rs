//! relu_rs: ReLU-family activations and their gradients for NumPy arrays.
//!
//! `kernels` and `math` are pure Rust on slices; `parallel` decides how work is split; `fpenv`
//! keeps the caller's floating-point modes out of the results; `py` holds the bindings. This file only registers the module.

pub mod element;
pub mod fpenv;
pub mod kernels;
pub mod math;
pub mod parallel;
pub mod py;
pub mod simd;

use pyo3::prelude::*;

#[pymodule]
fn _relu_rs(m: &Bound<'_, PyModule>) -> PyResult<()> {
    use py::ops;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(ops::relu, m)?)?;
    m.add_function(wrap_pyfunction!(ops::relu_grad, m)?)?;
    m.add_function(wrap_pyfunction!(ops::leaky_relu, m)?)?;
    m.add_function(wrap_pyfunction!(ops::leaky_relu_grad, m)?)?;
    m.add_function(wrap_pyfunction!(ops::prelu, m)?)?;
    m.add_function(wrap_pyfunction!(ops::prelu_grad, m)?)?;
    m.add_function(wrap_pyfunction!(ops::softplus, m)?)?;
    m.add_function(wrap_pyfunction!(ops::softplus_grad, m)?)?;
    m.add_function(wrap_pyfunction!(ops::set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(ops::get_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(ops::simd_path, m)?)?;
    Ok(())
}
