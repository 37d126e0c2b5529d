#!/usr/bin/env python3
"""Derives the Winograd F(m, R) matrices kernels.c uses, F(4, 3) and F(2, 5), by the Cook-Toom
construction, checks each against the direct correlation, and prints them with their float32
error over random 2-D tiles (against a float64 direct sum); F(2, 3) beside them for comparison.

    /usr/bin/python3 scripts/winograd-matrices.py        (needs python3-sympy and python3-numpy)

A^T (m x a) and G (a x R) follow from the interpolation points (0, +-1, ..., and infinity); B^T
(a x a) is then the one matrix that makes A^T [(G g) * (B^T d)] the correlation of d and g, found
by solving that identity exactly. Both sizes kernels.c uses have a = 6 and the points 0, +-1,
+-2, hence the same B^T: the check below is what its comments quote.
"""
import numpy as np
import sympy as sp


def matrices(m, r, points):
    n = m + r - 1
    at, g = sp.zeros(m, n), sp.zeros(n, r)
    for j, a in enumerate(points):
        f = sp.prod([a - b for k, b in enumerate(points) if k != j])
        for i in range(m):
            at[i, j] = a**i
        for k in range(r):
            g[j, k] = sp.Rational(a) ** k / f
    at[m - 1, n - 1] = 1
    g[n - 1, r - 1] = 1
    b = sp.Matrix(n, n, lambda i, j: sp.Symbol(f"b{i}_{j}"))
    identity = [
        sum(at[i, j] * g[j, k] * b[j, l] for j in range(n)) - (1 if l == i + k else 0)
        for i in range(m) for k in range(r) for l in range(n)
    ]
    solution = sp.solve(identity, list(b), dict=True)[0]
    bt = b.subs(solution)
    return at, g, bt.subs({s: 0 for s in bt.free_symbols})


def float32_error(at, g, bt, m, r, trials=2000):
    n = m + r - 1
    a, gm, b = (np.array(x.tolist(), dtype=np.float64).astype(np.float32) for x in (at, g, bt))
    rng = np.random.default_rng(0)
    errors = []
    for _ in range(trials):
        d = rng.standard_normal((n, n)).astype(np.float32)
        w = rng.standard_normal((r, r)).astype(np.float32)
        exact = np.array([[np.sum(d[i:i + r, j:j + r].astype(np.float64) * w) for j in range(m)] for i in range(m)])
        y = a @ ((gm @ w @ gm.T) * (b @ d @ b.T)) @ a.T
        errors.append(np.max(np.abs(y - exact)) / np.max(np.abs(exact)))
    return float(np.mean(errors)), float(np.max(errors))


for m, r, points in ((4, 3, [0, 1, -1, 2, -2]), (2, 5, [0, 1, -1, 2, -2]), (2, 3, [0, 1, -1])):
    at, g, bt = matrices(m, r, points)
    mean, worst = float32_error(at, g, bt, m, r)
    print(f"F({m}, {r}), points {points} and infinity: float32 relative error mean {mean:.1e}, max {worst:.1e}")
    for name, x in (("A^T", at), ("G", g), ("B^T", bt)):
        print(f"  {name}: {x.tolist()}")
