"""One split of a spiking data set in the Neural Latents Benchmark's layout."""

import equinox as eqx

from .._custom_types import Array, Float, Int


class SpikeTensors(eqx.Module):
    """Binned spikes of one split (train or val), as nlb_tools' ``make_tensors``.

    Arrays are ``(trials, time, channels)`` with counts per bin (floats; NaN marks
    bins outside the recording). A model sees ``heldin`` and predicts rates for
    ``heldout`` (co-smoothing, :func:`dynax.analysis.co_bps`) and for the
    ``*_forward`` bins that follow the trial window (forward prediction,
    :func:`dynax.analysis.fp_bps`).

    Attributes:
        heldin: held-in neurons over the trial window.
        heldout: held-out neurons over the trial window.
        heldin_forward: held-in neurons over the forward-prediction bins.
        heldout_forward: held-out neurons over the forward-prediction bins.
        behavior: behaviour over the trial window (e.g. hand velocity,
            ``(trials, time, 2)``), or ``None``.
        condition: the condition id of each trial (``-1``: unknown).
        trial_ids: each trial's id in the source (the NWB trials table's ``id``,
            or the trial index of a generated data set).
    """

    heldin: Float[Array, "trials time heldin"]
    heldout: Float[Array, "trials time heldout"]
    heldin_forward: Float[Array, "trials forward heldin"]
    heldout_forward: Float[Array, "trials forward heldout"]
    behavior: Float[Array, "trials time channels"] | None
    condition: Int[Array, " trials"]
    trial_ids: Int[Array, " trials"]
