//! 8-bit affine-quantized activations (real = (q − zero_point)·scale) as byte lookups.
//!
//! A function of one 8-bit value has 256 results, so each call builds a 256-entry table (one per
//! channel for PReLU) and the kernel is `out[i] = table[q[i]]`, indexed by the raw byte (an int8
//! −1 is byte 255). Each entry is round_half_to_even(f((q − zp)·scale) / out_scale) + out_zp,
//! saturated to the dtype's range, computed exactly: for the piecewise-linear functions
//! (relu, leaky_relu, prelu) with integer arithmetic on the float64 parameters' exact values
//! ([`requantize_linear`]) wherever float64 arithmetic cannot prove the rounding; for softplus,
//! correctly rounded ([`softplus_requantized`]). Every layout reduces to contiguous bytes;
//! `x = None` works in place.

use super::elementwise::ChunkOp;
use crate::math::double_double::{self as dd, Dd};

/// An 8-bit quantized element type: the range of its values and how its byte encodes one.
pub trait QuantElement: Copy + Send + Sync + 'static {
    const MIN: i32;
    const MAX: i32;
    /// The integer value of the byte `b`.
    fn value_of_byte(b: u8) -> i32;
}

impl QuantElement for i8 {
    const MIN: i32 = i8::MIN as i32;
    const MAX: i32 = i8::MAX as i32;
    fn value_of_byte(b: u8) -> i32 {
        b as i8 as i32
    }
}

impl QuantElement for u8 {
    const MIN: i32 = 0;
    const MAX: i32 = u8::MAX as i32;
    fn value_of_byte(b: u8) -> i32 {
        b as i32
    }
}

/// The result for every byte: `table[b]` is the output byte for the input byte `b`.
pub type Table = [u8; 256];

/// The table of `T` for `f`, which maps an input value to an output value (saturated here).
pub fn table<T: QuantElement>(f: impl Fn(i32) -> i64) -> Table {
    std::array::from_fn(|b| {
        let v = f(T::value_of_byte(b as u8)).clamp(T::MIN as i64, T::MAX as i64);
        v as i32 as u8 // the value's own byte (two's complement for int8)
    })
}

/// A finite float64 as its exact value sign·m·2^e, m odd (or 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dyadic {
    negative: bool,
    m: u64,
    e: i32,
}

impl Dyadic {
    /// The exact value of a finite `v`.
    pub fn of(v: f64) -> Dyadic {
        debug_assert!(v.is_finite());
        let bits = v.to_bits();
        let biased = ((bits >> 52) & 0x7ff) as i32;
        let fraction = bits & ((1 << 52) - 1);
        let (m, e) = if biased == 0 {
            (fraction, -1074)
        } else {
            (fraction | (1 << 52), biased - 1075)
        };
        let shift = if m == 0 { 0 } else { m.trailing_zeros() };
        Dyadic {
            negative: v.is_sign_negative() && m != 0,
            m: m >> shift,
            e: e + shift as i32,
        }
    }

    pub const ONE: Dyadic = Dyadic {
        negative: false,
        m: 1,
        e: 0,
    };
}

/// Magnitudes are saturated here: far beyond any 8-bit result plus zero point.
const SATURATED: i64 = 1 << 20;

/// |d·scale·factor / out_scale|, exactly, `out_scale > 0`.
///
/// With scale = ms·2^es (and so on) the value is n / den with n = |d|·ms·mf (< 2^114) and den =
/// mo, times 2^(es + ef − eo): the power of two goes into n when it is ≥ 0 (beyond 2^120 the
/// value is beyond any 8-bit result: `Huge`), into den otherwise (beyond 2^126 the value is below
/// 2^−12: `Tiny`, with its parts).
#[derive(Clone, Copy, Debug)]
enum Magnitude {
    Ratio { num: u128, den: u128 },
    Huge,
    Tiny { num: u128, den: u128, shift: i64 },
}

fn magnitude(d: i32, scale: Dyadic, factor: Dyadic, out_scale: Dyadic) -> Magnitude {
    let n = d.unsigned_abs() as u128 * scale.m as u128 * factor.m as u128;
    let k = scale.e as i64 + factor.e as i64 - out_scale.e as i64;
    let bits = |v: u128| 128 - v.leading_zeros() as i64;
    let den = out_scale.m as u128;
    if n == 0 {
        Magnitude::Ratio { num: 0, den: 1 }
    } else if k >= 0 && bits(n) + k > 120 {
        Magnitude::Huge
    } else if k >= 0 {
        Magnitude::Ratio { num: n << k, den }
    } else if bits(den) - k > 126 {
        Magnitude::Tiny {
            num: n,
            den,
            shift: -k,
        }
    } else {
        Magnitude::Ratio {
            num: n,
            den: den << -k,
        }
    }
}

/// round_half_to_even(d·scale·factor / out_scale), exact, saturated to ±2^20. `out_scale > 0`.
/// One integer division of [`magnitude`]'s ratio and its remainder decide the rounding, ties
/// included.
pub fn requantize_linear(d: i32, scale: Dyadic, factor: Dyadic, out_scale: Dyadic) -> i64 {
    let negative = (d < 0) ^ scale.negative ^ factor.negative ^ out_scale.negative;
    let magnitude = match magnitude(d, scale, factor, out_scale) {
        Magnitude::Huge => SATURATED,
        Magnitude::Tiny { .. } => 0,
        Magnitude::Ratio { num, den } => {
            let (mut q, r) = (num / den, num % den);
            if 2 * r > den || (2 * r == den && q % 2 == 1) {
                q += 1;
            }
            q.min(SATURATED as u128) as i64
        }
    };
    if negative {
        -magnitude
    } else {
        magnitude
    }
}

/// The affine parameters of a call, checked: scales finite and > 0, zero points in the dtype's
/// range.
#[derive(Clone, Copy, Debug)]
pub struct Quantization {
    pub scale: f64,
    pub zero_point: i32,
    pub out_scale: f64,
    pub out_zero_point: i32,
}

/// The table of leaky_relu with slope `alpha` for negatives (relu: `alpha = 0`; PReLU: one per
/// channel): (q − zp)·scale if q > zp, else α·(q − zp)·scale, requantized exactly.
pub fn leaky_relu_table<T: QuantElement>(p: &Quantization, alpha: f64) -> Table {
    let (scale, out_scale) = (Dyadic::of(p.scale), Dyadic::of(p.out_scale));
    let alpha_exact = Dyadic::of(alpha);
    table::<T>(|q| {
        let d = q - p.zero_point;
        let (factor, factor_exact) = if d > 0 {
            (1.0, Dyadic::ONE)
        } else {
            (alpha, alpha_exact)
        };
        let rounded = rounded_if_clear(d, p.scale, factor, p.out_scale)
            .unwrap_or_else(|| requantize_linear(d, scale, factor_exact, out_scale));
        rounded + p.out_zero_point as i64
    })
}

/// round(d·scale·factor / out_scale) from float64 arithmetic, where that is provably the exact
/// rounding: three roundings of normal values leave a relative error below 2^−51, so a value
/// farther than 2^−48 (relative) from every half-integer rounds as the exact one does. `None`
/// near a half-integer, for zero, subnormal or huge values: [`requantize_linear`] decides those.
#[inline]
fn rounded_if_clear(d: i32, scale: f64, factor: f64, out_scale: f64) -> Option<i64> {
    let product = d as f64 * scale;
    let scaled = product * factor;
    let v = scaled / out_scale;
    let all_normal = product.is_normal() && scaled.is_normal() && v.is_normal();
    if !all_normal || v.abs() >= SATURATED as f64 {
        return None;
    }
    let r = v.round();
    let from_half = ((v - r).abs() - 0.5).abs();
    (from_half > v.abs() * 2f64.powi(-48)).then_some(r as i64)
}

/// The table of softplus(x; β) = log(1 + e^(βx))/β, correctly rounded (half to even: no value is
/// ever a tie) and saturated. See [`softplus_requantized`].
pub fn softplus_table<T: QuantElement>(p: &Quantization, beta: f64) -> Table {
    let tail = SoftplusTail::new(beta, p.out_scale);
    let (scale, out_scale) = (Dyadic::of(p.scale), Dyadic::of(p.out_scale));
    table::<T>(|q| {
        let d = q - p.zero_point;
        softplus_requantized(d, p.scale, scale, out_scale, &tail) + p.out_zero_point as i64
    })
}

/// What softplus's tail needs of β and the out scale: β, ln(β·out_scale), and β·out_scale as a
/// mantissa pair (exact) and a power of two.
struct SoftplusTail {
    beta: f64,
    ln_beta_out_scale: f64,
    beta_out_scale: Dd,
    exponent: i32,
}

impl SoftplusTail {
    fn new(beta: f64, out_scale: f64) -> SoftplusTail {
        let (bm, be) = frexp(beta);
        let (om, oe) = frexp(out_scale);
        SoftplusTail {
            beta,
            ln_beta_out_scale: beta.ln() + out_scale.ln(),
            beta_out_scale: Dd::from_f64(bm).mul_f64(om),
            exponent: be + oe,
        }
    }
}

/// `v = m·2^e` with m in [1, 2), for a finite v > 0.
fn frexp(v: f64) -> (f64, i32) {
    let (v, bias) = if v < f64::MIN_POSITIVE {
        (v * 2f64.powi(64), 64)
    } else {
        (v, 0)
    };
    let e = ((v.to_bits() >> 52) & 0x7ff) as i32 - 1023;
    (
        f64::from_bits((v.to_bits() & !(0x7ff << 52)) | (1023 << 52)),
        e - bias,
    )
}

/// round_half_to_even(softplus(d·scale; β) / out_scale), saturated to 2^20.
///
/// softplus(x)/o = L + T with L = max(x, 0)/o, exact ([`magnitude`]), and the tail T =
/// log1p(e^−|βx|)/(β·o) > 0. With L + ½ = m + f (m an integer, f the exact fraction) and g = 1 − f
/// in (0, 1], the result is m + 1 + ⌊T − g⌋. T − g is never an integer: that would make
/// log(1 + e^(βx)) rational, which Lindemann–Weierstrass excludes for rational βx (0 included:
/// ln 2). So T only has to be known well enough to place T − g between two integers:
/// 1. bounds from t·ln 2 ≤ log1p(t) ≤ min(t, ln 2) decide T < g (result m) or T > 4096
///    (saturated) at once: every large |βx|, every extreme parameter;
/// 2. else T in f64 (relative error < 10^−12), accepted when T − g is farther than
///    10^−9·(T + g) from an integer;
/// 3. else T in double-double (relative error < 2^−93), accepted farther than 2^−85·(T + g).
///    Closer than that is not known to occur; the double-double side is taken.
fn softplus_requantized(
    d: i32,
    scale_f64: f64,
    scale: Dyadic,
    out_scale: Dyadic,
    tail: &SoftplusTail,
) -> i64 {
    // L + ½ = m + f, g = 1 − f, exactly (g as f64 and as a pair)
    let (m, g64, g) = match magnitude(d.max(0), scale, Dyadic::ONE, out_scale) {
        Magnitude::Huge => return SATURATED,
        Magnitude::Ratio { num, den } => {
            let (two, t) = (2 * den, 2 * num + den);
            let (m, rest) = (t / two, two - t % two);
            if m >= SATURATED as u128 {
                return SATURATED;
            }
            let g = Dd::from_u128(rest).div(Dd::from_u128(two));
            (m as i64, g.value(), g)
        }
        Magnitude::Tiny { num, den, shift } => {
            let l = Dd::from_u128(num)
                .div(Dd::from_u128(den))
                .ldexp(-(shift as i32));
            let g = Dd::from_f64(0.5).sub(l);
            (0, g.value(), g)
        }
    };
    let abs_bx = (tail.beta * (d as f64 * scale_f64)).abs().min(1e4);
    let ln_bo = tail.ln_beta_out_scale;
    let slack = 1e-9 * (1.0 + abs_bx + ln_bo.abs());
    let ln_ln2 = std::f64::consts::LN_2.ln();
    if (-abs_bx).min(ln_ln2) - ln_bo + slack < g64.ln() {
        return m; // T < g
    }
    if ln_ln2 - abs_bx - ln_bo - slack > 4096f64.ln() {
        return SATURATED; // T > 4096
    }
    let ln_log1p = if abs_bx > 700.0 {
        -abs_bx // log1p(t) = t to 2^−1000 relative
    } else {
        (-abs_bx).exp().ln_1p().ln()
    };
    let t64 = (ln_log1p - ln_bo).exp();
    if let Some(j) = floor_if_clear(Dd::from_f64(t64).sub(g), 1e-9 * (t64 + g64)) {
        return m + 1 + j;
    }
    let bx = Dd::from_f64(d as f64).mul_f64(scale_f64).mul_f64(tail.beta);
    let (t, te) = dd::exp(if bx.hi > 0.0 { bx.neg() } else { bx });
    let (l, le) = if te < -120 {
        (t, te) // log1p(t) = t(1 − t/2 + …): t/2 < 2^−120
    } else {
        (dd::log1p(t.ldexp(te)), 0)
    };
    let tail_value = l.div(tail.beta_out_scale).ldexp(le - tail.exponent);
    let w = tail_value.sub(g);
    let bound = 2f64.powi(-85) * (tail_value.hi + g64);
    let j = floor_if_clear(w, bound).unwrap_or_else(|| floor(w));
    m + 1 + j
}

/// ⌊w⌋ of a pair.
fn floor(w: Dd) -> i64 {
    let j = w.hi.floor();
    (if w.hi == j && w.lo < 0.0 { j - 1.0 } else { j }) as i64
}

/// ⌊w⌋ when w is farther than `bound` from every integer.
fn floor_if_clear(w: Dd, bound: f64) -> Option<i64> {
    let j = floor(w);
    let above = w.sub(Dd::from_f64(j as f64)).value();
    let below = 1.0 - above;
    (above > bound && below > bound).then_some(j)
}

/// `out[i] = table[x[i]]` for one channel run; `x = None`: `out` is also the input. With AVX-512
/// VBMI, AVX2 or NEON where the path in use has it (`src/simd/*/byte_lookup.rs`), else a scalar
/// loop; every one exact.
#[inline(always)]
pub fn lookup(table: &Table, x: Option<&[u8]>, out: &mut [u8]) {
    #[cfg(target_arch = "x86_64")]
    {
        use crate::simd::{x86::byte_lookup, Avx2, Vbmi};
        if let Some(cpu) = Vbmi::detect() {
            return byte_lookup::vbmi(cpu, table, x, out);
        }
        if let Some(cpu) = Avx2::detect() {
            return byte_lookup::avx2(cpu, table, x, out);
        }
    }
    #[cfg(target_arch = "aarch64")]
    if let Some(cpu) = crate::simd::Neon::detect() {
        return crate::simd::aarch64::byte_lookup::neon(cpu, table, x, out);
    }
    lookup_portable(table, x, out);
}

/// `out = step(block)` for each `W`-byte block of the input (`x`, or `out` itself in place:
/// each block is read before it is written); the last partial block through a zero-padded copy,
/// so `step` always sees whole blocks. The SIMD lookups' loop.
#[inline(always)]
pub(crate) fn by_blocks<const W: usize>(
    x: Option<&[u8]>,
    out: &mut [u8],
    mut step: impl FnMut([u8; W]) -> [u8; W],
) {
    let (blocks, rest) = out.as_chunks_mut::<W>();
    let whole = blocks.len() * W;
    match x {
        Some(x) => {
            assert_eq!(x.len(), whole + rest.len());
            for (o, &v) in blocks.iter_mut().zip(x.as_chunks::<W>().0) {
                *o = step(v);
            }
        }
        None => {
            for o in blocks.iter_mut() {
                *o = step(*o);
            }
        }
    }
    if !rest.is_empty() {
        let mut block = [0u8; W];
        block[..rest.len()].copy_from_slice(x.map_or(&*rest, |x| &x[whole..]));
        rest.copy_from_slice(&step(block)[..rest.len()]);
    }
}

/// [`lookup`] without SIMD.
#[inline(always)]
fn lookup_portable(table: &Table, x: Option<&[u8]>, out: &mut [u8]) {
    match x {
        Some(x) => {
            for (o, &v) in out.iter_mut().zip(x) {
                *o = table[v as usize];
            }
        }
        None => {
            for o in out.iter_mut() {
                *o = table[*o as usize];
            }
        }
    }
}

/// Runs shorter than this are looked up element by element.
const SHORT_RUN: usize = 64;

/// The lookup over a whole call: one table per channel, channel `c` covering runs of `inner`
/// consecutive elements, the runs cycling through the channels (one table: the whole array).
pub struct Lookup<'a> {
    pub x: Option<&'a [u8]>,
    pub tables: &'a [Table],
    pub inner: usize,
}

impl ChunkOp<u8> for Lookup<'_> {
    #[inline(always)]
    fn apply(&self, start: usize, out: &mut [u8]) {
        let channels = self.tables.len();
        let inner = self.inner.max(1);
        if channels > 1 && inner < SHORT_RUN {
            // channel-innermost data: element by element, not a call per short run
            for (j, o) in out.iter_mut().enumerate() {
                let i = start + j;
                let v = self.x.map_or(*o, |x| x[i]);
                *o = self.tables[(i / inner) % channels][v as usize];
            }
            return;
        }
        let mut done = 0;
        while done < out.len() {
            let i = start + done;
            let channel = (i / inner) % channels;
            let len = (inner - i % inner).min(out.len() - done);
            let x = self.x.map(|x| &x[i..i + len]);
            lookup(&self.tables[channel], x, &mut out[done..done + len]);
            done += len;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dyadic_is_exact() {
        assert_eq!(Dyadic::of(1.0), Dyadic::ONE);
        let d = Dyadic::of(-0.375);
        assert_eq!((d.negative, d.m, d.e), (true, 3, -3));
        let tiny = Dyadic::of(f64::from_bits(1));
        assert_eq!((tiny.m, tiny.e), (1, -1074));
        assert_eq!(Dyadic::of(0.0).m, 0);
    }

    #[test]
    fn ties_go_to_even_and_large_values_saturate() {
        let half = Dyadic::of(0.5);
        let one = Dyadic::ONE;
        // d·0.5: 0.5 → 0, 1.5 → 2, 2.5 → 2, -2.5 → -2
        let got: Vec<i64> = [1, 3, 5, -5]
            .iter()
            .map(|&d| requantize_linear(d, half, one, one))
            .collect();
        assert_eq!(got, [0, 2, 2, -2]);
        let huge = Dyadic::of(1e300);
        assert_eq!(
            requantize_linear(-1, huge, one, Dyadic::of(1e-300)),
            -SATURATED
        );
        assert_eq!(requantize_linear(255, Dyadic::of(1e-300), one, huge), 0);
        // float64 0.1 is just above 1/10: 5·0.1 is just above the tie 0.5, so 1, not 0
        assert_eq!(requantize_linear(5, Dyadic::of(0.1), one, one), 1);
        // float64 0.3 is just below 3/10: 5·0.3 is just below 1.5, so 1, not 2
        assert_eq!(requantize_linear(5, Dyadic::of(0.3), one, one), 1);
        // 3·(1/3 in float64) is just below 1, whose half-way point 0.5 is far: 1
        let third = Dyadic::of(1.0 / 3.0);
        assert_eq!(requantize_linear(3, third, one, one), 1);
    }

    #[test]
    fn the_float_shortcut_agrees_with_the_exact_rounding() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut decided = 0;
        for _ in 0..200_000 {
            let pick = |bits: u64, lo: i32, span: u64| 2f64.powi(lo + (bits % span) as i32);
            let scale = pick(next(), -20, 24) * (1.0 + (next() % 1000) as f64 / 1000.0);
            let out_scale = pick(next(), -20, 24) * (1.0 + (next() % 7) as f64 / 8.0);
            let factor = [1.0, 0.1, -0.3, 0.5, 1e-3, -7.25][(next() % 6) as usize];
            let d = (next() % 511) as i32 - 255;
            if let Some(r) = rounded_if_clear(d, scale, factor, out_scale) {
                let exact = requantize_linear(
                    d,
                    Dyadic::of(scale),
                    Dyadic::of(factor),
                    Dyadic::of(out_scale),
                );
                assert_eq!(r, exact, "{d}·{scale}·{factor}/{out_scale}");
                decided += 1;
            }
        }
        assert!(decided > 100_000);
    }

    #[test]
    fn tables_saturate_and_index_by_byte() {
        let p = Quantization {
            scale: 1.0,
            zero_point: 0,
            out_scale: 0.5,
            out_zero_point: 0,
        };
        let t = leaky_relu_table::<i8>(&p, -1.0);
        assert_eq!(t[1], 2);
        assert_eq!(t[100], 127); // 200 saturates
        assert_eq!(t[255], 2); // -1 → |−1|·2
        assert_eq!(t[128], 127); // -128 → 256 saturates
        let u = leaky_relu_table::<u8>(&p, 0.0);
        assert_eq!(u[200], 255);
    }

    type LookupFn = Box<dyn Fn(&Table, Option<&[u8]>, &mut [u8])>;

    /// Every SIMD lookup the path in use allows, each called directly (not only the one
    /// [`lookup`] picks), and the dispatch itself.
    fn simd_lookups() -> Vec<(&'static str, LookupFn)> {
        let mut all: Vec<(&'static str, LookupFn)> = vec![("dispatch", Box::new(lookup))];
        #[cfg(target_arch = "x86_64")]
        {
            use crate::simd::{x86::byte_lookup, Avx2, Vbmi};
            if let Some(cpu) = Vbmi::detect() {
                all.push((
                    "vbmi",
                    Box::new(move |t, x, o| byte_lookup::vbmi(cpu, t, x, o)),
                ));
            }
            if let Some(cpu) = Avx2::detect() {
                all.push((
                    "avx2",
                    Box::new(move |t, x, o| byte_lookup::avx2(cpu, t, x, o)),
                ));
            }
        }
        #[cfg(target_arch = "aarch64")]
        if let Some(cpu) = crate::simd::Neon::detect() {
            use crate::simd::aarch64::byte_lookup;
            all.push((
                "neon",
                Box::new(move |t, x, o| byte_lookup::neon(cpu, t, x, o)),
            ));
        }
        all
    }

    #[test]
    fn simd_lookup_matches_the_portable_one() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        };
        // random tables, and the identity (a failure shows the index looked up instead)
        let mut tables: Vec<Table> = (0..3).map(|_| std::array::from_fn(|_| next())).collect();
        tables.push(std::array::from_fn(|b| b as u8));
        // at 0: byte i = (i % 256 + i / 256): every value at every position of a 64-byte block
        // within 16K; at 16K: random bytes
        let mut x: Vec<u8> = (0..16_384).map(|i| (i % 256 + i / 256) as u8).collect();
        x.extend((0..70_000).map(|_| next()));
        const GUARD: usize = 40; // bytes after each output, which must stay untouched
        let untouched = |bytes: &[u8]| bytes.iter().all(|&v| v == 0xa5);
        let lookups = simd_lookups();
        let names: Vec<_> = lookups.iter().map(|l| l.0).collect();
        eprintln!("lookups: {names:?}");
        let mut cases = vec![];
        for start in [0, 16_384] {
            for n in (0..=200).chain([1000, 4096 + 31, 65_536 + 17]) {
                for a in 0..if n > 200 { 4 } else { 32 } {
                    cases.push((start, n, a, (a * 5 + 3) % 32)); // b, the output's offset: all 32
                }
            }
        }
        for (t, table) in tables.iter().enumerate() {
            for &(start, n, a, b) in &cases {
                let src = &x[start + a..start + a + n];
                let want: Vec<u8> = src.iter().map(|&v| table[v as usize]).collect();
                let mut portable = vec![0u8; n];
                lookup_portable(table, Some(src), &mut portable);
                assert_eq!(portable, want);
                for (name, f) in &lookups {
                    let what = format!("{name}, table {t}, x[{start}..], n = {n}, offsets {a} {b}");
                    let mut buf = vec![0xa5u8; b + n + GUARD];
                    f(table, Some(src), &mut buf[b..b + n]);
                    assert_eq!(buf[b..b + n], want, "{what}");
                    assert!(untouched(&buf[..b]) && untouched(&buf[b + n..]), "{what}");
                    let mut buf = vec![0xa5u8; a + n + GUARD];
                    buf[a..a + n].copy_from_slice(src);
                    f(table, None, &mut buf[a..a + n]);
                    assert_eq!(buf[a..a + n], want, "{what}, in place");
                    assert!(
                        untouched(&buf[..a]) && untouched(&buf[a + n..]),
                        "{what}, in place"
                    );
                }
            }
        }
    }

    #[test]
    fn lookup_follows_channels_and_works_in_place() {
        let mut tables = [[0u8; 256]; 3];
        for (c, t) in tables.iter_mut().enumerate() {
            for (b, e) in t.iter_mut().enumerate() {
                *e = (b as u8).wrapping_add(c as u8 * 100);
            }
        }
        let x: Vec<u8> = (0..1000).map(|i| (i * 7) as u8).collect();
        for inner in [5, 100] {
            let want: Vec<u8> = x
                .iter()
                .enumerate()
                .map(|(i, &v)| tables[(i / inner) % 3][v as usize])
                .collect();
            let op = Lookup {
                x: Some(&x),
                tables: &tables,
                inner,
            };
            let mut out = vec![0u8; 1000];
            for start in [0, 3, 17, 999] {
                out[start..].fill(0);
                op.apply(start, &mut out[start..]);
                assert_eq!(out[start..], want[start..]);
            }
            let mut in_place = x.clone();
            let op = Lookup {
                x: None,
                tables: &tables,
                inner,
            };
            op.apply(0, &mut in_place);
            assert_eq!(in_place, want);
        }
    }
}
