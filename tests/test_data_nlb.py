"""load_nlb on small NWB files written here with pynwb, against nlb_tools."""

import datetime
import types
import warnings

import numpy as np
import pytest
from typecheck import unchecked

import dynax as dx

pynwb = pytest.importorskip("pynwb")

N_UNITS, N_HELDOUT, N_TRIALS = 10, 3, 12
SPLITS = ["train"] * 8 + ["val"] * 2 + ["test"] * 2


def write_nwb(path, *, seed=0, trials=True, behavior=True, split=True, heldout=True):
    """An NLB-style file: units (spike_times, obs_intervals, heldout), trials
    (start/stop, split, move_onset_time, trial_type, trial_version) and
    processing/behavior/hand_vel at 1 ms, as the DANDI MC_Maze files. Trials are
    1.3 s apart; a 40 ms gap in the recording (obs_intervals) and NaN hand
    velocity sit between trial windows (nlb_tools drops NaN rows inside them)."""
    rng = np.random.default_rng(seed)
    nwb = pynwb.NWBFile(
        session_description="test", identifier="nlb-test",
        session_start_time=datetime.datetime(2021, 1, 1, tzinfo=datetime.UTC),
    )  # fmt: skip
    starts = 0.1 + 1.3 * np.arange(N_TRIALS)
    end = float(starts[-1] + 1.3)
    if trials:
        if split:
            nwb.add_trial_column("split", "data split")
        nwb.add_trial_column("move_onset_time", "movement onset (s)")
        nwb.add_trial_column("trial_type", "maze")
        nwb.add_trial_column("trial_version", "maze version")
        for k, s in enumerate(starts):
            extra = {"split": SPLITS[k]} if split else {}
            nwb.add_trial(
                start_time=s, stop_time=s + 1.2, move_onset_time=s + 0.4 + 0.0123 * k,
                trial_type=k % 3, trial_version=k % 2, **extra,
            )  # fmt: skip
    gap = (starts[4] + 1.20, starts[4] + 1.24)
    if heldout:
        nwb.add_unit_column("heldout", "held-out unit")
    for u in range(N_UNITS):
        times = np.sort(rng.uniform(0.0, end, rng.poisson(30 * end)))
        times = times[(times < gap[0]) | (times >= gap[1])]
        kw = {"heldout": u >= N_UNITS - N_HELDOUT} if heldout else {}
        nwb.add_unit(spike_times=times, obs_intervals=[[0.0, gap[0]], [gap[1], end]],
                     **kw)  # fmt: skip
    if behavior:
        t = np.arange(round(end * 1000)) / 1000
        vel = np.stack([np.sin(3 * t), np.cos(2 * t) + 0.1 * t], axis=1)
        vel[(t >= starts[2] + 1.2) & (t < starts[2] + 1.22)] = np.nan
        module = nwb.create_processing_module("behavior", "behaviour")
        series = pynwb.TimeSeries(
            name="hand_vel", data=vel, timestamps=t, unit="mm/s", description="v"
        )
        module.add(series)
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return starts


@pytest.fixture(scope="module")
def nwb_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("nlb") / "sub-test_desc-train.nwb"
    write_nwb(path)
    return path


def nlb_tools_tensors(path, bin_width, split):
    """nlb_tools' own tensors (NWBDataset + make_train_input_tensors)."""
    nwb_interface = pytest.importorskip("nlb_tools.nwb_interface")
    make_tensors = pytest.importorskip("nlb_tools.make_tensors")

    # nlb_tools 0.0.4 writes into arrays that pandas >= 3 (copy-on-write) hands out
    # read-only (nan_to_num(..., copy=False) in NWBDataset.resample): give that
    # module a NumPy whose nan_to_num copies. Results are unchanged.
    class NumPy(types.ModuleType):
        def __getattr__(self, name):
            return getattr(np, name)

        @staticmethod
        def nan_to_num(x, copy=True, **kw):
            return np.nan_to_num(x, copy=True, **kw)

    original = nwb_interface.np
    nwb_interface.np = NumPy("numpy")
    try:
        with warnings.catch_warnings():
            # its pandas calls raise pandas 3 deprecation warnings (errors here)
            warnings.simplefilter("ignore")
            dataset = nwb_interface.NWBDataset(str(path))
            if bin_width != 1:
                dataset.resample(bin_width)
            return make_tensors.make_train_input_tensors(
                dataset, "mc_maze", split, save_file=False, include_behavior=True,
                include_forward_pred=True,
            )  # fmt: skip
    finally:
        nwb_interface.np = original


@pytest.mark.parametrize("bin_width", [5, 20])
def test_equals_nlb_tools_make_tensors(nwb_path, bin_width):
    """Every array equals nlb_tools' exactly (measured difference 0.0): the same
    binning, windows, 200 ms forward window and decimated, 100 ms lagged hand
    velocity (MC_Maze settings)."""
    ours = dx.data.load_nlb(nwb_path, "mc_maze", bin_width=bin_width)
    n_bins, n_fwd = 700 // bin_width, 200 // bin_width
    for split in ("train", "val"):
        theirs = nlb_tools_tensors(nwb_path, bin_width, split)
        got = getattr(ours, split)
        assert got.heldin.shape == (SPLITS.count(split), n_bins, N_UNITS - N_HELDOUT)
        assert got.heldout_forward.shape[1:] == (n_fwd, N_HELDOUT)
        pairs = {
            "train_spikes_heldin": got.heldin,
            "train_spikes_heldout": got.heldout,
            "train_spikes_heldin_forward": got.heldin_forward,
            "train_spikes_heldout_forward": got.heldout_forward,
            "train_behavior": got.behavior,
        }
        for name, value in pairs.items():
            want = np.asarray(theirs[name], np.float64)
            assert not np.isnan(want).any()
            np.testing.assert_array_equal(np.asarray(value), want, err_msg=name)
        assert float(np.sum(np.asarray(got.heldin))) > 100  # there are spikes


def test_splits_conditions_units_and_gaps(nwb_path):
    starts = write_nwb(nwb_path.parent / "again.nwb")
    data = dx.data.load_nlb(nwb_path, bin_width=20)
    assert data.bin_width == 20
    np.testing.assert_array_equal(data.heldin_units, np.arange(7))
    np.testing.assert_array_equal(data.heldout_units, [7, 8, 9])
    np.testing.assert_array_equal(data.train.trial_ids, np.arange(8))
    np.testing.assert_array_equal(data.test.trial_ids, [10, 11])
    # condition = rank of (trial_type, trial_version) among the sorted pairs
    assert data.conditions == ((0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1))
    k = np.arange(N_TRIALS)
    want = 2 * (k % 3) + k % 2
    np.testing.assert_array_equal(data.train.condition, want[:8])
    np.testing.assert_array_equal(data.val.condition, want[8:10])
    # hand-binned count of one window, from the spike times themselves
    with pynwb.NWBHDF5IO(str(nwb_path), "r") as io:
        spikes = np.asarray(io.read().units["spike_times"][2])
    onset_ms = (starts[3] + 0.4 + 0.0123 * 3) * 1000
    first = int(np.ceil((onset_ms - 250) / 20))
    ms = np.floor(np.round(spikes * 1000, 6))
    edges = 20 * (first + np.arange(36))
    hand = np.histogram(ms, bins=edges)[0]
    np.testing.assert_array_equal(data.train.heldin[3, :, 2], hand)
    # a window over the recording gap: NaN where its first millisecond is missing
    gap = dx.data.load_nlb(nwb_path, bin_width=20, align_field="stop_time",
                           align_range=(-100, 100), splits=("train",))  # fmt: skip
    trial4 = np.asarray(gap.train.heldin[4, :, 0])
    gap_bins = 20 * (np.ceil((starts[4] * 1000 + 1100) / 20) + np.arange(10))
    inside = (gap_bins >= 1000 * starts[4] + 1200) & (
        gap_bins < 1000 * starts[4] + 1240
    )
    assert inside.any()
    np.testing.assert_array_equal(np.isnan(trial4), inside)
    assert data.train.behavior.shape == (8, 35, 2)


def test_missing_fields_and_bad_arguments(tmp_path, nwb_path):
    for what, kwargs, name in [
        ("no_trials", dict(trials=False), "path"),
        ("no_split", dict(split=False), "path"),
        ("no_behavior", dict(behavior=False), "behavior_field"),
    ]:
        path = tmp_path / f"{what}.nwb"
        write_nwb(path, **kwargs)
        with unchecked(), pytest.raises(ValueError, match=f"^{name}:"):
            dx.data.load_nlb(path)
    # no heldout column: every unit held in; no behaviour asked for: none
    path = tmp_path / "no_heldout.nwb"
    write_nwb(path, heldout=False, behavior=False)
    plain = dx.data.load_nlb(path, behavior_field="", bin_width=20)
    assert plain.train.heldout.shape == (8, 35, 0) and plain.train.behavior is None
    for kwargs, name in [
        (dict(dataset="dmfc_rsg"), "dataset"),
        (dict(bin_width=0), "bin_width"),
        (dict(align_range=(100, 0)), "align_range"),
        (dict(splits=("training",)), "splits"),
        (dict(align_field="go_cue_time"), "path"),
    ]:
        with unchecked(), pytest.raises((ValueError, TypeError), match=f"^{name}:"):
            dx.data.load_nlb(nwb_path, **kwargs)
    with unchecked(), pytest.raises(ValueError, match="^path:"):
        dx.data.load_nlb(tmp_path / "absent.nwb")
