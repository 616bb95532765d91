"""One ensemble across devices and processes: shard the member axis, gather results.

With ``jax.distributed.initialize()`` (one process per GPU, or several CPU processes
with ``jax_cpu_collectives_implementation="gloo"``), :func:`shard_ensemble` places
every array leaf of a stacked ensemble with its member axis split over all devices of
all processes (``jax.sharding.NamedSharding`` on a one-axis mesh). ``simulate``,
``fit`` and the analysis functions then run unchanged: XLA partitions the vmapped
members, each device computes its own, and nothing crosses devices except the
losses ``fit`` reports (gathered on the host). :func:`gather_ensemble` brings a
sharded result back to every process, e.g. to save or compare it.

Single-process, multi-device (several GPUs in one process) works the same way.
"""

from typing import Any, TypeVar

import equinox as eqx
import jax
import jax.tree_util as jtu
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ._ensemble import ensemble_size

_T = TypeVar("_T")
AXIS = "members"


def to_host(x: Any) -> np.ndarray:
    """``np.asarray(x)``, gathering the shards of other processes when needed."""
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(x, tiled=True))
    return np.asarray(x)


def local(x: jax.Array) -> jax.Array:
    """``x`` itself, or, when it spans other processes, all of it on this one."""
    if x.is_fully_addressable:
        return x
    return jax.numpy.asarray(to_host(x))


def member_mesh(devices=None) -> Mesh:
    """A one-axis mesh named ``"members"`` over ``devices`` (default: all)."""
    return Mesh(np.asarray(jax.devices() if devices is None else devices), (AXIS,))


def shard_ensemble(ensemble: _T, mesh: Mesh | None = None) -> _T:
    """Split the member axis of every array leaf over the devices of ``mesh``.

    Args:
        ensemble: a stacked ensemble (or any PyTree whose array leaves share a
            leading member axis); every process passes the same values.
        mesh: a mesh with an axis named ``"members"`` (default: all devices of all
            processes, :func:`member_mesh`).

    Returns:
        The same PyTree with global, sharded arrays.
    """
    mesh = member_mesh() if mesh is None else mesh
    if AXIS not in mesh.axis_names:
        raise ValueError(
            f"mesh: expected an axis named {AXIS!r}, got {mesh.axis_names}."
        )
    n, devices = ensemble_size(ensemble), mesh.shape[AXIS]
    if n % devices:
        raise ValueError(
            f"ensemble: expected a member count divisible by the {devices} devices of "
            f"the mesh, got {n} members; add members or use fewer devices."
        )

    def place(x):
        if not eqx.is_array(x):
            return x
        spec = PartitionSpec(AXIS, *([None] * (x.ndim - 1)))
        value = np.asarray(x)
        sharding = NamedSharding(mesh, spec)
        return jax.make_array_from_callback(value.shape, sharding, lambda i: value[i])

    return jtu.tree_map(place, ensemble)


def gather_ensemble(tree: _T) -> _T:
    """Every array leaf as a NumPy array holding all members, on every process."""
    return jtu.tree_map(lambda x: to_host(x) if eqx.is_array(x) else x, tree)
