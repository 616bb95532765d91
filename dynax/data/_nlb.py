r"""A loader for Neural Latents Benchmark NWB files (the DANDI NLB data sets).

Reads an NWB file with pynwb (an optional dependency: ``pip install pynwb``) and
makes NLB's trial tensors in NumPy, following nlb_tools' ``NWBDataset`` and
``make_train_input_tensors`` step by step (no pandas): spikes binned at 1 ms by
truncation, NaN outside the units' ``obs_intervals``, rebinned by summing, trial
windows aligned to an event, behaviour decimated with scipy's FIR filter and lagged.
"""

import os
from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax.numpy as jnp
import numpy as np
import scipy.signal

from .._custom_types import Array, Int
from .._validate import check_float_dtype, check_int, fail
from ._tensors import SpikeTensors

#: nlb_tools' settings per data set (``make_tensors.PARAMS``): alignment field and
#: window (ms), behaviour field and lag (ms), condition fields of the PSTHs.
NLB_PRESETS = {
    "mc_maze": ("move_onset_time", (-250, 450), "hand_vel", 100,
                ("trial_type", "trial_version")),
    "mc_maze_large": ("move_onset_time", (-250, 450), "hand_vel", 120,
                      ("trial_type", "trial_version")),
    "mc_maze_medium": ("move_onset_time", (-250, 450), "hand_vel", 120,
                       ("trial_type", "trial_version")),
    "mc_maze_small": ("move_onset_time", (-250, 450), "hand_vel", 120,
                      ("trial_type", "trial_version")),
    "mc_rtt": ("start_time", (0, 600), "finger_vel", 140, ()),
    "area2_bump": ("move_onset_time", (-100, 500), "hand_vel", -20,
                   ("cond_dir", "ctr_hold_bump")),
}  # fmt: skip


class NLBData(eqx.Module):
    """NLB tensors of each split of one NWB file.

    Attributes:
        train: the ``"train"`` trials as :class:`SpikeTensors`, or ``None``.
        val: the ``"val"`` trials, or ``None``.
        test: the ``"test"`` trials (held-out neurons absent from NLB test
            files: zero of them), or ``None``.
        heldin_units: unit ids (rows of the units table) of the held-in neurons.
        heldout_units: unit ids of the held-out neurons.
        conditions: the condition-field values of each condition id, in order.
        bin_width: the bin width in ms.
    """

    train: SpikeTensors | None
    val: SpikeTensors | None
    test: SpikeTensors | None
    heldin_units: Int[Array, " heldin"]
    heldout_units: Int[Array, " heldout"]
    conditions: tuple = eqx.field(static=True)
    bin_width: int = eqx.field(static=True)


def load_nlb(
    path: str | os.PathLike,
    dataset: str = "mc_maze",
    *,
    bin_width: int = 5,
    align_field: str | None = None,
    align_range: tuple[int, int] | None = None,
    forward: int = 200,
    behavior_field: str | None = None,
    behavior_lag: int | None = None,
    condition_fields: Sequence[str] | None = None,
    splits: Sequence[str] = ("train", "val", "test"),
    dtype=None,
) -> NLBData:
    r"""Load an NLB NWB file into held-in/held-out, forward and behaviour tensors.

    The file must hold what the DANDI NLB files hold: a ``units`` table with
    ``spike_times`` (s), optionally ``obs_intervals`` and a boolean ``heldout``
    column (absent: every unit held in); a ``trials`` table with ``start_time``,
    ``stop_time``, ``split`` (``"train"``, ``"val"``, ``"test"``), the alignment
    field and the condition fields; and the behaviour as a ``TimeSeries``
    anywhere in the file (e.g. ``processing/behavior/hand_vel``), sampled every
    1 ms.

    Steps (those of nlb_tools 0.0.4): spikes are binned at 1 ms from $t = 0$
    (bin ``int(round(1000 t, 6))``), set to NaN outside the first unit's
    ``obs_intervals``, and summed over ``bin_width`` ms (a bin is NaN where its
    first millisecond is). Each trial's window holds the bins whose start lies in
    ``[a + start, a + end)`` ms for its alignment time ``a`` (``align_field``);
    the forward window ``[a + end, a + end + forward)``; the behaviour window is
    the trial window shifted by ``behavior_lag`` ms, on the behaviour decimated
    to ``bin_width`` by ``scipy.signal.decimate(x, q, n=500, ftype="fir")``
    after linear interpolation over its NaN samples (NaN restored afterwards).
    Bins past the end of the recording are NaN (nlb_tools fails there). Unlike
    nlb_tools (``allow_overlap=False``) windows are not cut where the next trial
    starts; the NLB data sets' windows do not overlap.

    Condition ids number the sorted distinct combinations of
    ``condition_fields`` over the loaded trials (``-1`` where a field is
    missing), as nlb_tools orders its PSTH conditions.

    Args:
        path: the ``.nwb`` file.
        dataset: a preset of nlb_tools' settings (:data:`NLB_PRESETS`:
            ``"mc_maze"``, ``"mc_maze_large"``/``"_medium"``/``"_small"``,
            ``"mc_rtt"``, ``"area2_bump"``); the keyword arguments below
            override it.
        bin_width: bin width in ms (a whole number; NLB uses 5 and 20).
        align_field: the trials-table column the windows align to.
        align_range: ``(start, end)`` of the trial window in ms around it.
        forward: length of the forward-prediction window in ms (NLB: 200).
        behavior_field: the name of the behaviour time series (``None``: the
            preset's; ``""``: load none).
        behavior_lag: shift of the behaviour window in ms.
        condition_fields: trials-table columns defining conditions.
        splits: the splits to load.
        dtype: float dtype of the arrays (default: JAX's default float).

    Returns:
        An :class:`NLBData`.
    """
    if dataset not in NLB_PRESETS:
        fail("dataset", f"one of {tuple(NLB_PRESETS)}", repr(dataset))
    preset = NLB_PRESETS[dataset]
    align_field = preset[0] if align_field is None else align_field
    start, end = preset[1] if align_range is None else align_range
    behavior_field = preset[2] if behavior_field is None else behavior_field
    lag = preset[3] if behavior_lag is None else behavior_lag
    fields = preset[4] if condition_fields is None else tuple(condition_fields)
    check_int("bin_width", bin_width, 1)
    check_int("forward", forward, 0)
    if not all(isinstance(x, int) for x in (start, end, lag)) or end <= start:
        what = "whole ms, align_range (start, end) with end > start, an int lag"
        fail("align_range", what, repr((start, end, lag)))
    for name in splits:
        if name not in ("train", "val", "test"):
            fail("splits", "names among 'train', 'val', 'test'", repr(name))
    dtype = check_float_dtype("dtype", dtype)
    nwb = _read(path, align_field, fields, behavior_field)
    spikes, heldout = _bin_spikes(nwb["units"], nwb["t_end"], bin_width)
    behavior = None
    if behavior_field:  # on the spikes' 1 ms grid, as nlb_tools joins them
        grid = np.full((nwb["t_end"], nwb["behavior"].shape[1]), np.nan)
        n = min(nwb["t_end"], nwb["behavior"].shape[0])
        grid[:n] = nwb["behavior"][:n]
        behavior = _decimate(grid, bin_width)
    trials = nwb["trials"]
    ids, combos = _conditions(trials, fields, splits)
    out = {}
    for name in ("train", "val", "test"):
        rows = np.flatnonzero(trials["split"] == name) if name in splits else []
        if len(rows) == 0:
            out[name] = None
            continue
        align = trials[align_field][rows] * 1000.0
        window = _windows(spikes, align + start, align + end, bin_width)
        fwd = _windows(spikes, align + end, align + end + forward, bin_width)
        beh = None
        if behavior is not None:
            beh = _windows(behavior, align + start + lag, align + end + lag, bin_width)
            beh = jnp.asarray(beh, dtype)
        out[name] = SpikeTensors(
            jnp.asarray(window[..., ~heldout], dtype),
            jnp.asarray(window[..., heldout], dtype),
            jnp.asarray(fwd[..., ~heldout], dtype),
            jnp.asarray(fwd[..., heldout], dtype),
            beh,
            jnp.asarray(ids[rows]),
            jnp.asarray(trials["id"][rows]),
        )
    units = np.asarray(nwb["units"]["id"])
    return NLBData(
        out["train"], out["val"], out["test"], jnp.asarray(units[~heldout]),
        jnp.asarray(units[heldout]), combos, bin_width,
    )  # fmt: skip


def _read(path, align_field: str, fields, behavior_field: str) -> dict:
    """Read the units, the trials and the behaviour series (checking each field)."""
    try:
        from pynwb import NWBHDF5IO, TimeSeries
    except ImportError as err:  # pragma: no cover - the optional dependency
        raise ImportError("load_nlb needs pynwb: pip install pynwb") from err
    if not os.path.isfile(path):
        fail("path", "an existing NWB file", repr(os.fspath(path)))
    with NWBHDF5IO(os.fspath(path), "r") as io:  # pyright: ignore[reportCallIssue]
        nwb: Any = io.read()
        where = f"in {os.fspath(path)}"
        if nwb.units is None or "spike_times" not in nwb.units.colnames:
            fail("path", "an NWB file with a units table with spike_times", where)
        if nwb.trials is None:
            fail("path", "an NWB file with a trials table", where)
        need = ["start_time", "stop_time", "split", align_field, *fields]
        missing = [c for c in dict.fromkeys(need) if c not in nwb.trials.colnames]
        if missing:
            fail(
                "path", f"trials-table columns {need}", f"none named {missing} {where}"
            )
        units = {
            "id": np.asarray(nwb.units.id[:]),
            "spike_times": [np.asarray(s) for s in nwb.units["spike_times"][:]],
        }
        for column in ("heldout", "obs_intervals"):
            if column in nwb.units.colnames:
                units[column] = list(nwb.units[column][:])
        trials = {c: np.asarray(nwb.trials[c][:]) for c in dict.fromkeys(need)}
        trials["id"] = np.asarray(nwb.trials.id[:])
        trials["split"] = np.asarray([_text(s) for s in trials["split"]])
        behavior = None
        if behavior_field:
            series = [
                obj for obj in nwb.objects.values()
                if isinstance(obj, TimeSeries) and obj.name == behavior_field
            ]  # fmt: skip
            if not series:
                fail("behavior_field", f"a TimeSeries named it {where}",
                     repr(behavior_field))  # fmt: skip
            behavior = _series_on_grid(series[0])
    t_end = _end_time(units, trials)
    return {"units": units, "trials": trials, "behavior": behavior, "t_end": t_end}


def _text(x) -> str:
    return x.decode() if isinstance(x, bytes) else str(x)


def _series_on_grid(ts) -> np.ndarray:
    """A TimeSeries on the 1 ms grid from t = 0 (NaN where it has no sample)."""
    data = np.asarray(ts.data[:], np.float64)
    data = data[:, None] if data.ndim == 1 else data
    if ts.timestamps is not None:
        times = np.asarray(ts.timestamps[:])
    else:
        times = np.arange(data.shape[0]) / ts.rate + ts.starting_time
    index = np.round(times * 1000.0).astype(int)
    if np.any(np.abs(times * 1000.0 - index) > 1e-3) or index.min() < 0:
        fail("behavior_field", "a series sampled on the 1 ms grid", f"{ts.name}")
    out = np.full((index.max() + 1, data.shape[1]), np.nan)
    out[index] = data
    return out


def _end_time(units, trials) -> int:
    """The recording's end in ms, as nlb_tools: obs_intervals or the last trial."""
    end = 0
    if "obs_intervals" in units:
        end = round(max(np.asarray(o)[-1][-1] for o in units["obs_intervals"]) * 1000)
    return max(end, round(float(trials["stop_time"][-1]) * 1000))


def _bin_spikes(units, t_end: int, bin_width: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts ``(bins, units)`` at ``bin_width`` ms and the held-out mask."""
    n = len(units["spike_times"])
    heldout = np.asarray(units.get("heldout", np.zeros(n)), bool)
    counts = np.zeros((t_end, n))
    for j, times in enumerate(units["spike_times"]):
        index = np.round(times * 1000.0, 6).astype(int)
        np.add.at(counts[:, j], index[(index >= 0) & (index < t_end)], 1.0)
    missing = np.zeros((t_end, n), bool)
    if "obs_intervals" in units:
        for group in (~heldout, heldout):
            if not np.any(group):
                continue
            first = np.flatnonzero(group)[0]
            out = np.ones(t_end, bool)
            for lo, hi in np.asarray(units["obs_intervals"][first]).reshape(-1, 2):
                a = int(np.ceil(round(lo * 1000.0, 6)))
                b = int(np.floor(round(hi * 1000.0, 6)))
                out[max(a, 0) : max(b, 0)] = False
            missing[:, group] = out[:, None]
    n_bins = -(-t_end // bin_width)
    padded = np.zeros((n_bins * bin_width, n))
    padded[:t_end] = counts
    binned = padded.reshape(n_bins, bin_width, n).sum(axis=1)
    binned[missing[::bin_width]] = np.nan
    return binned, heldout


def _decimate(x: np.ndarray, q: int) -> np.ndarray:
    """nlb_tools' resampling of a continuous signal: FIR decimation by ``q``."""
    if q == 1:
        return x
    nan = np.isnan(x)
    filled = x.copy()
    grid = np.arange(x.shape[0])
    for c in range(x.shape[1]):
        ok = ~nan[:, c]
        if np.any(nan[:, c]) and np.any(ok):
            filled[:, c] = np.interp(grid, grid[ok], x[ok, c])
    out = scipy.signal.decimate(filled, q, axis=0, n=500, ftype="fir")
    out[nan[::q]] = np.nan
    return out


def _windows(x: np.ndarray, lo_ms, hi_ms, bin_width: int) -> np.ndarray:
    """Bins whose start lies in ``[lo, hi)`` ms per trial, NaN past the data."""
    first = np.ceil(np.round(np.asarray(lo_ms) / bin_width, 9)).astype(int)
    length = int(round((hi_ms[0] - lo_ms[0]) / bin_width))
    index = first[:, None] + np.arange(length)[None, :]
    inside = (index >= 0) & (index < x.shape[0])
    out = x[np.clip(index, 0, x.shape[0] - 1)]
    out[~inside] = np.nan
    return out


def _conditions(trials, fields, splits) -> tuple[np.ndarray, tuple]:
    """Condition id per trial: the rank of its field values among the loaded ones."""
    n = len(trials["id"])
    if not fields:
        return np.full(n, -1), ()
    values = [tuple(_plain(trials[f][k]) for f in fields) for k in range(n)]
    ok = [all(not _isnan(v) for v in row) for row in values]
    loaded = [r for r, good, s in zip(values, ok, trials["split"], strict=True)
              if good and s in splits]  # fmt: skip
    combos = tuple(sorted(set(loaded)))
    rank = {c: i for i, c in enumerate(combos)}
    ids = [rank.get(r, -1) if good else -1 for r, good in zip(values, ok, strict=True)]
    return np.asarray(ids), combos


def _plain(v):
    """A NumPy scalar or bytes as a plain Python value (hashable, printable)."""
    v = v.item() if isinstance(v, np.generic) else v
    return v.decode() if isinstance(v, bytes) else v


def _isnan(v) -> bool:
    return isinstance(v, float | np.floating) and bool(np.isnan(v))
