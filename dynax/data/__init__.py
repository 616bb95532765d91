"""Data sets: generators of chaotic, benchmark and spiking data, and file loaders."""

from ._lorenz_spikes import LorenzSpikes as LorenzSpikes, lorenz_spikes as lorenz_spikes
from ._mackey_glass import mackey_glass as mackey_glass
from ._nlb import NLB_PRESETS as NLB_PRESETS, NLBData as NLBData, load_nlb as load_nlb
from ._series import (
    lorenz_series as lorenz_series,
    memory_capacity_task as memory_capacity_task,
    narma as narma,
    narma_from_inputs as narma_from_inputs,
)
from ._tensors import SpikeTensors as SpikeTensors
