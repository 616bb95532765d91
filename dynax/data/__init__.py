"""Data sets: pure generators of chaotic and benchmark series (no downloads)."""

from ._mackey_glass import mackey_glass as mackey_glass
from ._series import (
    lorenz_series as lorenz_series,
    memory_capacity_task as memory_capacity_task,
    narma as narma,
    narma_from_inputs as narma_from_inputs,
)
