"""Accuracy check: float32 ridge readouts on the README's ESN example, against NumPy.

The README's reservoir block (200 units; also 300), with the states simulated in
float32: held-out NRMSE of ``dx.train.ridge_readout`` per ridge value, against NumPy's
float32 normal-equation ``solve``, float32 ``lstsq`` on the augmented matrix
``[X; sqrt(a) I]`` and float64 ``lstsq`` on the same float32 states, and against dynax
on float64 states. Prints one JSON object.

Usage: ``python experiments/benchmarks/ridge_accuracy.py``.
"""

import json

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

import dynax as dx

CASES = {200: [1e-8, 1e-6, 1e-4, 1e-2], 300: [1e-10, 1e-8, 1e-6, 1e-4, 1e-2]}


def dynax_errors(n, dtype, alphas):
    """Held-out NRMSE per alpha, the states and the series (the README's example)."""
    s = dx.data.mackey_glass(1000, washout=100, dtype=dtype)
    esn = dx.models.ESN(
        1, n, spectral_radius=0.99, leak=0.3, density=0.1, key=jr.PRNGKey(10),
        dtype=dtype,
    )  # fmt: skip
    ts = jnp.arange(1000, dtype=dtype)
    ys = dx.simulate(esn, esn.init_state(), ts, inputs=s[:, None]).ys
    r = dx.train.ridge_readout(
        ys[:800], s[:800, None], alpha=jnp.asarray(alphas, dtype), washout=100
    )
    pred = jax.vmap(lambda r: r.predict(ys[800:]))(r)
    err = jax.vmap(lambda p: dx.analysis.nrmse(p[:, 0], s[800:]))(pred)
    return np.asarray(err).tolist(), np.asarray(ys), np.asarray(s)


def numpy_error(ys, s, alpha, how, dtype):
    """Held-out NRMSE of a centred ridge fit in NumPy (``solve`` or ``lstsq``)."""
    X, Y = ys[100:800].astype(dtype), s[100:800, None].astype(dtype)
    x_mean, y_mean = X.mean(0), Y.mean(0)
    Xc, Yc, n = X - x_mean, Y - y_mean, X.shape[1]
    a = np.dtype(dtype).type(alpha)
    if how == "solve":
        W = np.linalg.solve(Xc.T @ Xc + a * np.eye(n, dtype=dtype), Xc.T @ Yc)
    else:
        A = np.vstack([Xc, np.sqrt(a) * np.eye(n, dtype=dtype)])
        B = np.vstack([Yc, np.zeros((n, 1), dtype)])
        W = np.linalg.lstsq(A, B, rcond=None)[0]
    pred = (ys[800:].astype(dtype) @ W + (y_mean - x_mean @ W))[:, 0]
    return float(np.sqrt(np.mean((pred - s[800:]) ** 2)) / np.std(s[800:]))


def main() -> dict:
    """Run every case; return the JSON-able result."""
    out = {"benchmark": "ridge_accuracy", "metric": "held-out NRMSE"}
    for n, alphas in CASES.items():
        e32, ys, s = dynax_errors(n, jnp.float32, alphas)
        with jax.enable_x64(True):
            e64, _, _ = dynax_errors(n, jnp.float64, alphas)
        out[f"n={n}"] = {
            "alpha": alphas,
            "dynax_float32": e32,
            "dynax_float64_states": e64,
            "numpy_float32_solve": [
                numpy_error(ys, s, a, "solve", np.float32) for a in alphas
            ],
            "numpy_float32_lstsq": [
                numpy_error(ys, s, a, "lstsq", np.float32) for a in alphas
            ],
            "numpy_float64_lstsq": [
                numpy_error(ys, s, a, "lstsq", np.float64) for a in alphas
            ],
        }
    return out


if __name__ == "__main__":
    print(json.dumps(main(), indent=1))
