"""Trained 3-bit flip-flop networks: memories, fixed points and saddles.

The networks are trained for real, so this module follows the suite's rule for
training tests (tests/README.md): five seeds trained at once as an ensemble, every
seed must pass, and the settings leave a margin that does not hinge on the bits of
one CPU. ``margins()`` returns each check's worst-seed margin (tests/margins.py
prints them).
"""

import functools

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest

import dynax as dx

pytestmark = [pytest.mark.slow, pytest.mark.training]

N_SEEDS = 5
# Trials twice the usual length with fewer pulses, and private noise while training:
# the noise pushes the state off any point that is not an attractor, so the network
# learns eight true attractors instead of slow drifts that pass the sign score.
TASK = dx.tasks.FlipFlop(n_bits=3, n_steps=200, p_pulse=0.03, dt=0.1, settle_steps=2)
SCORE_TASK = dx.tasks.FlipFlop(n_bits=3, n_steps=100, dt=0.1, settle_steps=2)
MIN_SCORE = 0.99
# A stable point is a memory when every output is confidently a bit, |y| > CONFIDENT
# (the targets are +-1). Trained networks can also have an attractor that is not a
# memory: on one CPU thread seed 4 trains a ninth stable point with output
# (-0.03, 0.58, 0.33), next to its eight memories. The test asserts one stable point per
# memory and that every other stable point is ambiguous (not a second copy of a memory);
# margins() reports both margins.
CONFIDENT = 0.5
HOLD = 1600  # task steps held at zero input: 16 trial lengths of SCORE_TASK


@functools.cache
def trained():
    """Five seeds of a 32-unit CTRNN, trained at once (float32, as users run it)."""
    nets = dx.make_ensemble(
        lambda k: dx.models.CTRNN(
            3, 32, 3, tau=0.3, g=0.9, sigma_rec=0.1, dtype=jnp.float32, key=k
        ),
        jr.split(jr.PRNGKey(0), N_SEEDS),
    )
    nets, history = dx.train.fit(
        nets,
        TASK,
        optimizer=optax.chain(optax.clip_by_global_norm(1.0), optax.adam(1e-2)),
        n_steps=600,
        batch_size=32,
        key=jr.PRNGKey(1),
        ensemble=True,
        independent_batches=True,
        progress=False,
    )
    assert not bool(history.failed.any())
    return nets


@functools.cache
def fixed_points():
    nets = trained()
    batch = jax.vmap(SCORE_TASK.sample)(jr.split(jr.PRNGKey(3), 32))

    def visited(m):
        run = lambda u: dx.simulate(m, m.init_state(), SCORE_TASK.ts, inputs=u).ys  # noqa: E731
        return jax.vmap(run)(batch.inputs)

    cands = jax.vmap(
        lambda ys, k: dx.analysis.sample_candidates(ys, 512, noise=0.5, key=k)
    )(jax.vmap(visited)(nets), jr.split(jr.PRNGKey(4), N_SEEDS))
    fps = dx.analysis.find_fixed_points(
        nets, cands, inputs=jnp.zeros(3, jnp.float32), ensemble=True
    )
    return dx.analysis.unique_fixed_points(fps)


def settle(model, x0, n=200):
    ts = jnp.arange(n, dtype=x0.dtype) * 0.1
    u = jnp.zeros((n, 3), x0.dtype)
    return np.asarray(dx.simulate(model, x0, ts, inputs=u).ys[-1])


def margins() -> dict:
    """Each check's value per seed and the worst seed's margin to its bound."""
    nets = trained()
    score = np.asarray(
        dx.train.evaluate(nets, SCORE_TASK, key=jr.PRNGKey(2), ensemble=True).score
    )
    ret = dx.train.memory_retention(nets, SCORE_TASK, hold_steps=(HOLD,), ensemble=True)
    per_member = fixed_points()
    stable = [int(np.sum(np.asarray(u.stable))) for u in per_member]
    saddles = [int(np.sum(np.asarray(u.n_unstable) == 1)) for u in per_member]
    between = [memory_saddles(dx.member(nets, i), u) for i, u in enumerate(per_member)]
    # smallest |output| per stable point: > CONFIDENT for a memory
    conf = [
        np.min(np.abs(stable_outputs(dx.member(nets, i), u)), axis=1)
        for i, u in enumerate(per_member)
    ]
    memories = [int(np.sum(c > CONFIDENT)) for c in conf]
    extra = [[round(float(x), 3) for x in c[c <= CONFIDENT]] for c in conf]
    return {
        "score": score.tolist(),
        "score_margin": float(score.min() - MIN_SCORE),
        "patterns_held_16_trials": np.asarray(ret.n_held).tolist(),
        "stable_points": stable,
        "memory_points": memories,
        "memory_confidence_margin": min(
            float(np.min(c[c > CONFIDENT])) - CONFIDENT for c in conf
        ),
        "extra_stable_point_confidence": extra,
        "index1_saddles": saddles,
        "saddles_between_memories": [len(b) for b in between],
        "saddle_margin": min(len(b) for b in between) - 6,
        "saddles_between_memories_not_one_bit_apart": [
            sum(int(np.sum(c[0] != c[1]) != 1) for c in b) for b in between
        ],
    }


def test_every_seed_learns_eight_memories_with_saddles_between(optimized):
    """One test (one training run per xdist worker): every seed scores, holds all
    eight memories for 16 trial lengths, and has one stable point per memory and
    the saddles between them."""
    nets = trained()
    score = dx.train.evaluate(nets, SCORE_TASK, key=jr.PRNGKey(2), ensemble=True).score
    assert np.all(np.asarray(score) > MIN_SCORE), score
    ret = dx.train.memory_retention(nets, SCORE_TASK, hold_steps=(HOLD,), ensemble=True)
    np.testing.assert_array_equal(np.asarray(ret.n_held), 8)
    for i, u in enumerate(fixed_points()):
        check_memories_and_saddles(dx.member(nets, i), u)


def stable_outputs(model, u):
    """The readout at every stable point."""
    return np.asarray(jax.vmap(model.readout)(jnp.asarray(u.points[u.stable])))


def check_memories_and_saddles(model, u):
    """One stable point per memory (confident outputs, eight distinct signs), and
    no other stable point that reads out as a memory; each checked by simulation
    independently of the eigenvalues; and at least six index-1 saddles between two
    memories, each between memories one bit apart (a saddle next to a non-memory
    attractor is not counted)."""
    out = stable_outputs(model, u)
    memory = np.min(np.abs(out), axis=1) > CONFIDENT
    assert memory.sum() == 8
    assert len({tuple(s) for s in np.sign(out[memory])}) == 8
    for p in u.points[u.stable]:
        kick = 0.05 * jr.normal(jr.PRNGKey(5), p.shape, p.dtype)
        assert np.linalg.norm(settle(model, jnp.asarray(p) + kick) - p) < 1e-3
    between = memory_saddles(model, u)
    assert len(between) >= 6
    for corners in between:
        assert np.sum(corners[0] != corners[1]) == 1


def memory_saddles(model, u):
    """For each index-1 saddle whose unstable direction leads, both ways, to states
    that read out as memories: the two memories' output signs."""
    between = []
    for j in np.flatnonzero(np.asarray(u.n_unstable) == 1):
        v = np.real(np.asarray(u.eigvals[j]))  # most unstable first
        assert v[0] > 0 and v[1] < 0
        w, vecs = np.linalg.eig(np.asarray(u.jacobians[j]))
        direction = np.real(vecs[:, np.argmax(w.real)]).astype(np.float32)
        ends = [
            settle(model, jnp.asarray(u.points[j] + s * 0.05 * direction))
            for s in (1, -1)
        ]
        outs = [np.asarray(model.readout(jnp.asarray(e))) for e in ends]
        if all(np.min(np.abs(o)) > CONFIDENT for o in outs):
            between.append([np.sign(o) for o in outs])
    return between
