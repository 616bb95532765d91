"""The fast path's two ways of stepping an explicit Runge-Kutta tableau.

Stages written out one by one, or in a loop whose carry holds the stage derivatives
(chosen by ``dynax._fusion.expensive_tail``). Both must equal ``diffrax.diffeqsolve``
with ``ConstantStepSize``; the loop must keep XLA from recomputing each stage's
transcendental functions in every consumer.
"""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import dynax as dx
from dynax._fixed_step import explicit_tableau, stage_loop_step, written_out_step
from dynax._fusion import expensive_tail

W = jnp.array([[0.0, 0.5, -0.2], [0.3, 0.0, 0.1], [-0.4, 0.2, 0.0]])


def _kuramoto(coupling=1.5, lag=0.3):
    omega = jnp.array([1.0, -0.4, 0.3, 0.8, -1.1])
    return dx.models.Kuramoto(omega, coupling, lag=lag)


def test_expensive_tail_tells_elementwise_from_materialised_ends():
    y = jnp.zeros(3)
    rnn = dx.models.CTRNN(2, 3, 1, key=jr.PRNGKey(0))
    cases = {
        "exp of the state": (lambda v: jnp.exp(v) - v, True),
        "sin through a product and sum": (lambda v: 2.0 * jnp.sin(v) * v + 1.0, True),
        "exp of a constant only": (lambda v: jnp.exp(W[0]) * v, False),
        "matrix product after tanh": (lambda v: W @ jnp.tanh(v) - v, False),
        "reduction after sin": (lambda v: v * jnp.sum(jnp.sin(v)), False),
        "polynomial": (lambda v: v - v**3, False),
        "inside a nested jit": (lambda v: jax.jit(jnp.cos)(v) + v, True),
        "through jnp.where": (lambda v: jnp.where(v > 0, jnp.exp(v), v), True),
        "ctrnn": (lambda v: rnn(0.0, v, None), False),
    }
    for name, (f, expected) in cases.items():
        assert expensive_tail(f, y) is expected, name
    pytree = lambda s: {"a": s["a"] * 2.0, "b": jnp.tanh(s["b"])}  # noqa: E731
    assert expensive_tail(pytree, {"a": y, "b": y})
    k = _kuramoto()
    assert expensive_tail(lambda v: k(0.0, v, None), jnp.zeros(5))
    sl = dx.models.StuartLandau(jnp.ones(4), 0.5)
    assert not expensive_tail(lambda v: sl(0.0, v, None), jnp.zeros((4, 2)))


@pytest.mark.parametrize(
    "solver",
    [diffrax.Heun(), diffrax.Midpoint(), diffrax.Tsit5(), diffrax.Dopri8()],
    ids=lambda s: type(s).__name__,
)
def test_stage_loop_equals_written_out_stages(solver):
    tab = explicit_tableau(solver)
    assert tab is not None
    f = lambda t, s, args: {  # noqa: E731
        "x": jnp.sin(s["x"]) * (1.0 + t) + W @ s["v"],
        "v": -jnp.exp(-(s["v"] ** 2)) + args,
    }
    y = {"x": jnp.array([0.3, -1.2, 2.0]), "v": jnp.array([0.1, 0.5, -0.7])}
    t, h, args = jnp.asarray(0.4), jnp.asarray(0.05), jnp.asarray(0.2)
    written = written_out_step(f, tab, t, h, y, args)
    looped = stage_loop_step(f, tab, t, h, y, args)
    for key in y:
        np.testing.assert_allclose(looped[key], written[key], rtol=1e-15, atol=1e-16)


def _kuramoto_pair(solver, ts, dt):
    theta0 = jnp.array([0.1, 2.0, -1.0, 0.5, 3.0])

    def ours(coupling):
        return dx.simulate(_kuramoto(coupling), theta0, ts, solver=solver, dt=dt).ys

    def reference(coupling):
        return diffrax.diffeqsolve(
            diffrax.ODETerm(_kuramoto(coupling)),
            solver,
            ts[0],
            ts[-1],
            dt,
            theta0,
            saveat=diffrax.SaveAt(ts=ts),
            stepsize_controller=diffrax.ConstantStepSize(),
        ).ys

    return ours, reference


@pytest.mark.parametrize(
    "solver", [diffrax.Heun(), diffrax.Tsit5()], ids=["Heun", "Tsit5"]
)
def test_stage_loop_path_equals_diffeqsolve_values_and_gradients(solver):
    ts = jnp.linspace(0.0, 2.0, 11)
    ours, reference = _kuramoto_pair(solver, ts, 0.2 / 3)
    coupling = jnp.asarray(1.5)
    np.testing.assert_allclose(ours(coupling), reference(coupling), rtol=1e-12)
    loss = lambda f: lambda c: jnp.sum(jnp.cos(f(c)))  # noqa: E731
    np.testing.assert_allclose(
        jax.grad(loss(ours))(coupling), jax.grad(loss(reference))(coupling), rtol=1e-10
    )


def test_stage_loop_path_on_an_ensemble_equals_members():
    ens = eqx.filter_vmap(_kuramoto)(jnp.array([0.5, 1.5, 3.0]))
    ts = jnp.linspace(0.0, 1.0, 6)
    theta0 = jnp.array([0.1, 2.0, -1.0, 0.5, 3.0])
    batched = dx.simulate(ens, theta0, ts, solver=diffrax.Tsit5(), ensemble=True)
    for i in range(3):
        single = dx.simulate(dx.member(ens, i), theta0, ts, solver=diffrax.Tsit5())
        np.testing.assert_allclose(batched.ys[i], single.ys, rtol=1e-13)


def _sines_in_compiled(solver) -> int:
    model = _kuramoto()
    ts = jnp.linspace(0.0, 1.0, 11)
    run = jax.jit(lambda th: dx.simulate(model, th, ts, solver=solver).ys)
    return run.lower(jnp.zeros(5)).compile().as_text().count(" sine(")


def test_each_stage_evaluates_its_sines_once():
    """Tsit5 on Kuramoto: the stage loop compiles to one sine of the phases (and one of
    the lag), like Euler; written out stage by stage it compiled to 27 (each stage's
    sines recomputed in every later stage and in the update)."""
    euler = _sines_in_compiled(diffrax.Euler())
    assert _sines_in_compiled(diffrax.Heun()) == euler
    assert _sines_in_compiled(diffrax.Tsit5()) == euler
