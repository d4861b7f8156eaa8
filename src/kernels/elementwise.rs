//! The loops every elementwise kernel is built on, the traits that make each operation inline
//! into them, and the adapters that run f32 operations on f16 arrays.
//!
//! An operation is a small type implementing [`UnaryOp`] or [`BinaryOp`] with an
//! `#[inline(always)]` `apply`; the loops are generic over it. That (not closures, which cannot be
//! marked `inline(always)`) guarantees the whole loop body is compiled inside each SIMD path's
//! `#[target_feature]` function and vectorized for it. The in-place cases are spelled out so that
//! each loop is a plain zip.

use crate::element::{narrow_f16, widen_f16};
use crate::simd::F16c;
use half::f16;
use std::mem::MaybeUninit;

/// An elementwise operation of one input.
pub trait UnaryOp<T>: Sync {
    /// Time per element relative to relu (= 1); [`crate::parallel`] uses it to decide when
    /// threads pay and how big a chunk is.
    const COST: usize = 1;
    /// Whether the in-place loop reads a staged copy of its input: see [`stage_copy`].
    const STAGE_IN_PLACE: bool = false;
    fn apply(&self, x: T) -> T;
}

/// An elementwise operation of an upstream gradient and the forward input.
pub trait BinaryOp<T>: Sync {
    /// Time per element relative to relu (= 1); see [`UnaryOp::COST`].
    const COST: usize = 2;
    /// Whether the in-place loops read a staged copy of `out`: see [`stage_copy`].
    const STAGE_IN_PLACE: bool = false;
    fn apply(&self, grad: T, x: T) -> T;
}

/// Work on one contiguous chunk of the output, starting at flat index `start`. Implementations
/// hold their input slices (whole arrays) and mark `apply` `#[inline(always)]`.
pub trait ChunkOp<T>: Sync {
    /// Time per element relative to relu (= 1); see [`UnaryOp::COST`].
    const COST: usize = 1;
    fn apply(&self, start: usize, out: &mut [T]);
}

/// `out[i] = op(x[i])`; `x = None` means `out` is also the input.
///
/// The caller guarantees that `x`, when given, has `out.len()` elements.
#[inline(always)]
pub fn map_unary<T: Copy, O: UnaryOp<T>>(op: &O, x: Option<&[T]>, out: &mut [T]) {
    match x {
        Some(x) => {
            debug_assert_eq!(x.len(), out.len());
            for (o, &v) in out.iter_mut().zip(x) {
                *o = op.apply(v);
            }
        }
        None if O::STAGE_IN_PLACE => {
            let mut stage = [MaybeUninit::<T>::uninit(); STAGE];
            for o in out.chunks_mut(STAGE) {
                let x = stage_copy(&mut stage, o);
                for (o, &v) in o.iter_mut().zip(x) {
                    *o = op.apply(v);
                }
            }
        }
        None => {
            for o in out.iter_mut() {
                *o = op.apply(*o);
            }
        }
    }
}

/// Elements per step of the staged in-place loop (1-2 KiB of stack, in L1).
pub(crate) const STAGE: usize = 256;

/// `src` (at most [`STAGE`] elements) copied into `stage`, as a slice.
///
/// In place, `*o = op(*o)` stores back the value it loaded where the op keeps x; LLVM deletes
/// that store and vectorizes the rest as a masked store, slow on AMD. Reading from a copy keeps
/// every store unconditional (relu in place 44 → 16 µs: docs/performance.md).
#[inline(always)]
pub(crate) fn stage_copy<'a, T: Copy>(
    stage: &'a mut [MaybeUninit<T>; STAGE],
    src: &[T],
) -> &'a [T] {
    let n = src.len().min(STAGE);
    let dst = &mut stage[..n];
    // SAFETY: MaybeUninit<T> has T's layout, the regions are distinct (a stack array and a
    // borrowed slice), and the copy initializes the n elements the slice covers.
    unsafe {
        std::ptr::copy_nonoverlapping(src.as_ptr(), dst.as_mut_ptr().cast::<T>(), n);
        std::slice::from_raw_parts(dst.as_ptr().cast::<T>(), n)
    }
}

/// `out[i] = op(grad[i], x[i])`; `None` for either input means it is `out` itself.
///
/// `grad` and `x` may be the same slice (`Some(a), Some(a)`).
#[inline(always)]
pub fn map_binary<T: Copy, O: BinaryOp<T>>(
    op: &O,
    grad: Option<&[T]>,
    x: Option<&[T]>,
    out: &mut [T],
) {
    match (grad, x) {
        (Some(g), Some(x)) => {
            debug_assert!(g.len() == out.len() && x.len() == out.len());
            for ((o, &gv), &xv) in out.iter_mut().zip(g).zip(x) {
                *o = op.apply(gv, xv);
            }
        }
        (None, Some(x)) if O::STAGE_IN_PLACE => {
            debug_assert_eq!(x.len(), out.len());
            let mut stage = [MaybeUninit::<T>::uninit(); STAGE];
            for (o, x) in out.chunks_mut(STAGE).zip(x.chunks(STAGE)) {
                let g = stage_copy(&mut stage, o);
                for ((o, &gv), &xv) in o.iter_mut().zip(g).zip(x) {
                    *o = op.apply(gv, xv);
                }
            }
        }
        (None, Some(x)) => {
            debug_assert_eq!(x.len(), out.len());
            for (o, &xv) in out.iter_mut().zip(x) {
                *o = op.apply(*o, xv);
            }
        }
        (Some(g), None) if O::STAGE_IN_PLACE => {
            debug_assert_eq!(g.len(), out.len());
            let mut stage = [MaybeUninit::<T>::uninit(); STAGE];
            for (o, g) in out.chunks_mut(STAGE).zip(g.chunks(STAGE)) {
                let x = stage_copy(&mut stage, o);
                for ((o, &gv), &xv) in o.iter_mut().zip(g).zip(x) {
                    *o = op.apply(gv, xv);
                }
            }
        }
        (Some(g), None) => {
            debug_assert_eq!(g.len(), out.len());
            for (o, &gv) in out.iter_mut().zip(g) {
                *o = op.apply(gv, *o);
            }
        }
        (None, None) => {
            for o in out.iter_mut() {
                *o = op.apply(*o, *o);
            }
        }
    }
}

/// `x[start..start + len]`, or `None` (in place) passed through.
#[inline(always)]
fn window<T>(x: Option<&[T]>, start: usize, len: usize) -> Option<&[T]> {
    match x {
        Some(x) => Some(&x[start..start + len]),
        None => None,
    }
}

/// A [`UnaryOp`] over whole arrays, as chunk work: `out = op(x)` for the chunk's window of `x`.
pub struct Unary<'a, T, O> {
    pub op: O,
    pub x: Option<&'a [T]>,
}

impl<T: Copy + Sync, O: UnaryOp<T>> ChunkOp<T> for Unary<'_, T, O> {
    const COST: usize = O::COST;
    #[inline(always)]
    fn apply(&self, start: usize, out: &mut [T]) {
        map_unary(&self.op, window(self.x, start, out.len()), out);
    }
}

/// A [`BinaryOp`] over whole arrays, as chunk work.
pub struct Binary<'a, T, O> {
    pub op: O,
    pub grad: Option<&'a [T]>,
    pub x: Option<&'a [T]>,
}

impl<T: Copy + Sync, O: BinaryOp<T>> ChunkOp<T> for Binary<'_, T, O> {
    const COST: usize = O::COST;
    #[inline(always)]
    fn apply(&self, start: usize, out: &mut [T]) {
        let n = out.len();
        map_binary(
            &self.op,
            window(self.grad, start, n),
            window(self.x, start, n),
            out,
        );
    }
}

/// f16 elements per block of the f32 adapters: three such buffers stay in L1.
const F16_BLOCK: usize = 512;

/// Where `x` is NaN, the result is `x` itself, bit for bit (the f32 round trip could quiet a
/// signalling NaN or, converting in software, drop its payload).
#[inline(always)]
fn keep_nan_bits(out: &mut [f16], x: &[f16]) {
    for (o, &v) in out.iter_mut().zip(x) {
        // a select, not a conditional store, so the loop vectorizes
        *o = if v.to_bits() & 0x7fff > 0x7c00 { v } else { *o };
    }
}

/// The block `s..s + o.len()` of the input `x`; in place (`None`), a copy of `o` in `stage`, since
/// `o` is overwritten before the NaN pass reads the input again.
#[inline(always)]
fn input_block<'a>(
    x: Option<&'a [f16]>,
    o: &[f16],
    s: usize,
    stage: &'a mut [f16; F16_BLOCK],
) -> &'a [f16] {
    match x {
        Some(x) => &x[s..s + o.len()],
        None => {
            stage[..o.len()].copy_from_slice(o);
            &stage[..o.len()]
        }
    }
}

/// A [`UnaryOp`] on f32 applied to f16 arrays block by block: widen (F16C with the token), apply,
/// round once to f16. For ops whose f32 result rounded once to f16 is the correctly rounded f16
/// result (relu, leaky: α·x of two f16 values is exact in f32), or within the op's f16 bound
/// (softplus: an f32 value within 0.78 f32-ULP rounds to within 0.5001 f16-ULP). NaN inputs come
/// back as they were.
pub struct UnaryF16<'a, O> {
    pub op: O,
    pub x: Option<&'a [f16]>,
    /// F16C conversions where given; software ones otherwise.
    pub f16c: Option<F16c>,
}

impl<O: UnaryOp<f32>> ChunkOp<f16> for UnaryF16<'_, O> {
    const COST: usize = O::COST;
    #[inline(always)]
    fn apply(&self, start: usize, out: &mut [f16]) {
        let mut xin = [f16::ZERO; F16_BLOCK];
        let mut wide = [0.0f32; F16_BLOCK];
        // results in their own buffer: out of place, the op loop needs no staging
        let mut res = [0.0f32; F16_BLOCK];
        for (k, o) in out.chunks_mut(F16_BLOCK).enumerate() {
            let n = o.len();
            let s = start + k * F16_BLOCK;
            let x = input_block(self.x, o, s, &mut xin);
            widen_f16(x, &mut wide[..n], self.f16c);
            map_unary(&self.op, Some(&wide[..n]), &mut res[..n]);
            narrow_f16(&res[..n], o, self.f16c);
            keep_nan_bits(o, x);
        }
    }
}

/// A [`BinaryOp`] on f32 applied to f16 arrays block by block, as [`UnaryF16`]; the op returns
/// `x` where `x` is NaN.
pub struct BinaryF16<'a, O> {
    pub op: O,
    pub grad: Option<&'a [f16]>,
    pub x: Option<&'a [f16]>,
    /// F16C conversions where given; software ones otherwise.
    pub f16c: Option<F16c>,
}

impl<O: BinaryOp<f32>> ChunkOp<f16> for BinaryF16<'_, O> {
    const COST: usize = O::COST;
    #[inline(always)]
    fn apply(&self, start: usize, out: &mut [f16]) {
        let mut xin = [f16::ZERO; F16_BLOCK];
        let mut gw = [0.0f32; F16_BLOCK];
        let mut xw = [0.0f32; F16_BLOCK];
        let mut res = [0.0f32; F16_BLOCK]; // as in UnaryF16
        for (k, o) in out.chunks_mut(F16_BLOCK).enumerate() {
            let n = o.len();
            let s = start + k * F16_BLOCK;
            widen_f16(
                self.grad.map_or(&*o, |g| &g[s..s + n]),
                &mut gw[..n],
                self.f16c,
            );
            let x = input_block(self.x, o, s, &mut xin);
            widen_f16(x, &mut xw[..n], self.f16c);
            map_binary(&self.op, Some(&gw[..n]), Some(&xw[..n]), &mut res[..n]);
            narrow_f16(&res[..n], o, self.f16c);
            keep_nan_bits(o, x);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Affine;
    impl BinaryOp<f64> for Affine {
        fn apply(&self, a: f64, b: f64) -> f64 {
            a * 2.0 + b
        }
    }
    struct Triple;
    impl UnaryOp<f64> for Triple {
        fn apply(&self, v: f64) -> f64 {
            v * 3.0
        }
    }

    #[test]
    fn in_place_forms_match_out_of_place() {
        let g: Vec<f64> = (0..37).map(|i| i as f64 - 18.0).collect();
        let x: Vec<f64> = (0..37).map(|i| (i as f64 * 0.7).sin()).collect();
        let mut reference = vec![0.0; 37];
        map_binary(&Affine, Some(&g), Some(&x), &mut reference);

        let mut grad_out = g.clone();
        map_binary(&Affine, None, Some(&x), &mut grad_out);
        assert_eq!(grad_out, reference);

        let mut x_out = x.clone();
        map_binary(&Affine, Some(&g), None, &mut x_out);
        assert_eq!(x_out, reference);

        let mut both = x.clone();
        map_binary(&Affine, None, None, &mut both);
        let mut same = vec![0.0; 37];
        map_binary(&Affine, Some(&x), Some(&x), &mut same);
        assert_eq!(both, same);

        let mut u = x.clone();
        map_unary(&Triple, None, &mut u);
        let mut u_ref = vec![0.0; 37];
        map_unary(&Triple, Some(&x), &mut u_ref);
        assert_eq!(u, u_ref);
    }

    #[test]
    fn chunk_ops_use_the_chunk_window() {
        let x: Vec<f64> = (0..10).map(|i| i as f64).collect();
        let op = Unary {
            op: Triple,
            x: Some(&x[..]),
        };
        let mut out = [0.0; 4];
        op.apply(3, &mut out);
        assert_eq!(out, [9.0, 12.0, 15.0, 18.0]);
        let g = [1.0; 10];
        let b = Binary {
            op: Affine,
            grad: Some(&g[..]),
            x: Some(&x[..]),
        };
        b.apply(6, &mut out);
        assert_eq!(out, [8.0, 9.0, 10.0, 11.0]);
    }
}
