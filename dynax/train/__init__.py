"""Training: losses, regularisers, ``fit`` for networks and ensembles, checkpoints."""

from ._checkpoint import (
    CheckpointManager as CheckpointManager,
    load_checkpoint as load_checkpoint,
    save_checkpoint as save_checkpoint,
)
from ._data import Dataset as Dataset
from ._evaluate import Evaluation as Evaluation, evaluate as evaluate
from ._fit import History as History, fit as fit, trainable as trainable
from ._homeostasis import (
    Adaptation as Adaptation,
    adapt_inhibition as adapt_inhibition,
)
from ._langevin_flow import (
    LangevinFlowELBO as LangevinFlowELBO,
    fit_spikes as fit_spikes,
    langevin_flow_loss as langevin_flow_loss,
    langevin_flow_rates as langevin_flow_rates,
)
from ._loss import (
    Regularizer as Regularizer,
    cross_entropy as cross_entropy,
    masked_mse as masked_mse,
    weight_penalty as weight_penalty,
)
from ._readout import (
    ForceResult as ForceResult,
    Readout as Readout,
    force_readout as force_readout,
    ridge_readout as ridge_readout,
)
from ._retention import Retention as Retention, memory_retention as memory_retention
from ._sinkhorn import (
    SinkhornLoss as SinkhornLoss,
    gumbel_softmax as gumbel_softmax,
    sinkhorn_divergence as sinkhorn_divergence,
)
from ._spike_readout import (
    predict_labels as predict_labels,
    ridge_classifier as ridge_classifier,
    spike_counts as spike_counts,
)
from ._stdp import (
    STDP as STDP,
    Astrocyte as Astrocyte,
    STDPHistory as STDPHistory,
    stdp as stdp,
)
