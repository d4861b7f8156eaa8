//! Double-double arithmetic (an unevaluated sum hi + lo of two f64, about 106 bits) and the few
//! functions the exact quantized softplus tables need when an f64 evaluation cannot decide a
//! rounding: exp (as mantissa·2^k, so nothing under- or overflows), expm1 and log1p.
//!
//! Error bounds (relative, for the arguments used here): add/mul/div ≤ 2^−104; exp ≤ 2^−98
//! (|x| ≤ 2000: the reduction by a three-part ln 2, a 16-term series on r/64, six squarings);
//! expm1 on [−0.7, 0] ≤ 2^−97 (series below 2^−6, exp − 1 above); log1p on (0, 1] ≤ 2^−96
//! (one Newton step from libm's log1p, whose error it squares).

/// hi + lo with |lo| ≤ ulp(hi)/2.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dd {
    pub hi: f64,
    pub lo: f64,
}

#[inline]
fn two_sum(a: f64, b: f64) -> Dd {
    let s = a + b;
    let bb = s - a;
    Dd {
        hi: s,
        lo: (a - (s - bb)) + (b - bb),
    }
}

#[inline]
fn quick_two_sum(a: f64, b: f64) -> Dd {
    let s = a + b;
    Dd {
        hi: s,
        lo: b - (s - a),
    }
}

#[inline]
fn two_prod(a: f64, b: f64) -> Dd {
    let p = a * b;
    Dd {
        hi: p,
        lo: a.mul_add(b, -p),
    }
}

impl Dd {
    pub const fn from_f64(v: f64) -> Dd {
        Dd { hi: v, lo: 0.0 }
    }

    /// `v` to within 2^−106 relative.
    pub fn from_u128(v: u128) -> Dd {
        let hi = v as f64;
        let rest = v as i128 - hi as i128; // |rest| ≤ ulp(hi)/2 < 2^75: fits
        quick_two_sum(hi, rest as f64)
    }

    pub fn value(self) -> f64 {
        self.hi + self.lo
    }

    pub fn add(self, b: Dd) -> Dd {
        let s = two_sum(self.hi, b.hi);
        let t = two_sum(self.lo, b.lo);
        let s = quick_two_sum(s.hi, s.lo + t.hi);
        quick_two_sum(s.hi, s.lo + t.lo)
    }

    pub fn neg(self) -> Dd {
        Dd {
            hi: -self.hi,
            lo: -self.lo,
        }
    }

    pub fn sub(self, b: Dd) -> Dd {
        self.add(b.neg())
    }

    pub fn mul(self, b: Dd) -> Dd {
        let p = two_prod(self.hi, b.hi);
        quick_two_sum(p.hi, p.lo + (self.hi * b.lo + self.lo * b.hi))
    }

    pub fn mul_f64(self, b: f64) -> Dd {
        let p = two_prod(self.hi, b);
        quick_two_sum(p.hi, self.lo.mul_add(b, p.lo))
    }

    pub fn div(self, b: Dd) -> Dd {
        let q1 = self.hi / b.hi;
        let r = self.sub(b.mul_f64(q1));
        let q2 = r.hi / b.hi;
        let r = r.sub(b.mul_f64(q2));
        let q3 = r.hi / b.hi;
        quick_two_sum(q1, q2).add(Dd::from_f64(q3))
    }

    /// self·2^k, exact while both parts stay normal.
    pub fn ldexp(self, k: i32) -> Dd {
        Dd {
            hi: ldexp(self.hi, k),
            lo: ldexp(self.lo, k),
        }
    }
}

/// v·2^k (each step exact for normal results).
pub fn ldexp(v: f64, k: i32) -> f64 {
    let mut v = v;
    let mut k = k;
    while k > 1000 {
        v *= 2f64.powi(1000);
        k -= 1000;
    }
    while k < -1000 {
        v *= 2f64.powi(-1000);
        k += 1000;
    }
    v * 2f64.powi(k)
}

/// ln 2 in three parts (hi + mid + lo, 159 bits).
const LN2: [f64; 3] = [
    f64::from_bits(0x3fe6_2e42_fefa_39ef),
    f64::from_bits(0x3c7a_bc9e_3b39_803f),
    f64::from_bits(0x3907_b57a_079a_1934),
];

/// e^x = m·2^k with m in [0.7, 1.42] (|x.hi| ≤ 2000).
pub fn exp(x: Dd) -> (Dd, i32) {
    let k = (x.hi / LN2[0]).round();
    // r = x − k·ln 2, with k·ln 2 to ~2^−150 absolute
    let r = x
        .sub(two_prod(k, LN2[0]))
        .sub(two_prod(k, LN2[1]))
        .sub(Dd::from_f64(k * LN2[2]));
    let s = r.ldexp(-6);
    // Taylor series of e^s, |s| < 0.0055: 16 terms leave < 2^−150
    let mut term = Dd::from_f64(1.0);
    let mut sum = Dd::from_f64(1.0);
    for i in 1..16 {
        term = term.mul(s).div(Dd::from_f64(i as f64));
        sum = sum.add(term);
    }
    for _ in 0..6 {
        sum = sum.mul(sum);
    }
    (sum, k as i32)
}

/// e^x − 1 for x in [−0.7, 0], relatively accurate near 0.
pub fn expm1(x: Dd) -> Dd {
    if x.hi.abs() < 1.0 / 64.0 {
        // x + x²/2 + …: 20 terms leave < 2^−160 relative
        let mut term = x;
        let mut sum = x;
        for i in 2..20 {
            term = term.mul(x).div(Dd::from_f64(i as f64));
            sum = sum.add(term);
        }
        return sum;
    }
    let (m, k) = exp(x);
    m.ldexp(k).sub(Dd::from_f64(1.0))
}

/// log(1 + t) for t in (0, 1]: one Newton step y + (1 + t)·e^−y − 1 from libm's y, the
/// residual formed as (t + E) + t·E with E = expm1(−y), so it keeps its relative accuracy.
pub fn log1p(t: Dd) -> Dd {
    let y = Dd::from_f64(t.hi.ln_1p());
    let e = expm1(y.neg());
    let residual = t.add(e).add(t.mul(e));
    y.add(residual)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Dd, want_hi: f64, want_lo: f64, rel: f64) {
        let err = (a.hi - want_hi) + (a.lo - want_lo);
        assert!(
            err.abs() <= rel * want_hi.abs(),
            "{a:?} vs {want_hi:e} + {want_lo:e}"
        );
    }

    #[test]
    fn known_values() {
        // e^-1, ln 2, log1p(1e-20), e^-700 (mpmath at 200 bits, split into two doubles)
        let (m, k) = exp(Dd::from_f64(-1.0));
        close(
            m.ldexp(k),
            0.36787944117144233,
            -1.2428753672788363e-17,
            2f64.powi(-100),
        );
        close(log1p(Dd::from_f64(1.0)), LN2[0], LN2[1], 2f64.powi(-100));
        let tiny = log1p(Dd::from_f64(1e-20));
        close(tiny, 1e-20, -5e-41, 2f64.powi(-100));
        let (m, k) = exp(Dd::from_f64(-700.0));
        let ln = m.hi.ln() + k as f64 * LN2[0];
        assert!((ln + 700.0).abs() < 1e-12);
        let q = Dd::from_f64(1.0).div(Dd::from_f64(3.0));
        close(q.mul_f64(3.0), 1.0, 0.0, 2f64.powi(-104));
        assert_eq!(Dd::from_u128(u128::MAX >> 1).hi, 2f64.powi(127));
    }
}
