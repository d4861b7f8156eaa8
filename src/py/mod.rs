//! Python bindings: extraction, dtype dispatch, checks, GIL release. No arithmetic lives here.

pub mod arrays;
pub mod ops;
