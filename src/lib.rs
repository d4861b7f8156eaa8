//! relu_rs: ReLU-family activations and their gradients for NumPy arrays.
//!
//! `kernels` and `math` are pure Rust on slices; `ops` describes each activation once;
//! `parallel` decides how work is split; `fpenv` keeps the caller's floating-point modes out of
//! the results; `py` is the binding. This file only registers the module.

mod element;
mod fpenv;
mod kernels;
mod math;
mod ops;
mod parallel;
mod py;
mod simd;

use pyo3::prelude::*;

#[pymodule]
fn _relu_rs(m: &Bound<'_, PyModule>) -> PyResult<()> {
    use py::functions as f;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(f::relu, m)?)?;
    m.add_function(wrap_pyfunction!(f::relu_grad, m)?)?;
    m.add_function(wrap_pyfunction!(f::leaky_relu, m)?)?;
    m.add_function(wrap_pyfunction!(f::leaky_relu_grad, m)?)?;
    m.add_function(wrap_pyfunction!(f::prelu, m)?)?;
    m.add_function(wrap_pyfunction!(f::prelu_grad, m)?)?;
    m.add_function(wrap_pyfunction!(f::softplus, m)?)?;
    m.add_function(wrap_pyfunction!(f::softplus_grad, m)?)?;
    m.add_function(wrap_pyfunction!(f::set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(f::get_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(f::set_spin_wait, m)?)?;
    m.add_function(wrap_pyfunction!(f::get_spin_wait, m)?)?;
    m.add("_simd_path", wrap_pyfunction!(f::simd_path, m)?)?;
    let dtypes: Vec<&str> = f::FLOAT_DTYPES.iter().map(|d| d.name()).collect();
    m.add("_float_dtypes", dtypes)?;
    // every public name, so `relu_rs` re-exports them without a second list
    let mut public: Vec<String> = m.dict().keys().extract()?;
    public.retain(|name| !name.starts_with('_') || name == "__version__");
    public.sort();
    m.add("__all__", public)?;
    // an attribute, not in __all__ (`add_submodule` would append it): the public module is
    // `relu_rs.quantized` (python/relu_rs/quantized.py), which re-exports these
    let quantized = PyModule::new(m.py(), "quantized")?;
    quantized.add_function(wrap_pyfunction!(py::quantized::relu, &quantized)?)?;
    quantized.add_function(wrap_pyfunction!(py::quantized::leaky_relu, &quantized)?)?;
    quantized.add_function(wrap_pyfunction!(py::quantized::prelu, &quantized)?)?;
    quantized.add_function(wrap_pyfunction!(py::quantized::softplus, &quantized)?)?;
    m.setattr("quantized", quantized)?;
    Ok(())
}
