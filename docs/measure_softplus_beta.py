"""The float64 softplus (beta != 1) and softplus_grad(from_output=True) errors quoted in
docs/accuracy.md, against mpmath: ``python docs/measure_softplus_beta.py [SEED] [SAMPLES]``."""

import sys

import mpmath
import numpy as np

import relu_rs

mpmath.mp.prec = 120
seed = int(sys.argv[1]) if len(sys.argv) > 1 else 4
n = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
rng = np.random.default_rng(seed)
tiny = np.finfo(np.float64).tiny
for beta in (3.0, 0.37, 1e-3, 50.0, 1e-200, 7e150):
    # beta*x log-uniform in magnitude from 1e-6 to ~800, both signs
    x = (rng.uniform(-1, 1, n) * 10.0 ** rng.uniform(-6, 2.9, n)) / beta
    y = relu_rs.softplus(x, beta)
    g = relu_rs.softplus_grad(np.ones(n), y, beta, from_output=True)
    worst_y = worst_g = 0.0
    for xi, yi, gi in zip(x.tolist(), y.tolist(), g.tolist(), strict=True):
        z = mpmath.mpf(beta) * mpmath.mpf(xi)
        exact_y = mpmath.log1p(mpmath.exp(z)) / beta
        ulp_y = np.spacing(float(exact_y)) if float(exact_y) != 0 else 5e-324
        worst_y = max(worst_y, float(abs(mpmath.mpf(yi) - exact_y) / ulp_y))
        if tiny <= yi < np.inf:  # the from-output bound is for normal y
            exact_s = 1 / (1 + mpmath.exp(-z))
            ulp_s = np.spacing(float(exact_s))
            worst_g = max(worst_g, float(abs(mpmath.mpf(gi) - exact_s) / ulp_s))
    print(f"beta {beta:g}: softplus max {worst_y:.3f} ULP, from_output max {worst_g:.3f} ULP")
