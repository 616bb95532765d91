"""Analysis: pure, jit- and vmap-friendly functions of models and trajectories."""

from ._branching import (
    BranchingFactor as BranchingFactor,
    branching_factor as branching_factor,
)
from ._candidates import (
    sample_candidates as sample_candidates,
    unique_fixed_points as unique_fixed_points,
)
from ._fixed_points import (
    FixedPoints as FixedPoints,
    find_fixed_points as find_fixed_points,
)
from ._laplacian import (
    ConsensusNoise as ConsensusNoise,
    algebraic_connectivity as algebraic_connectivity,
    consensus_noise as consensus_noise,
    kirchhoff_index as kirchhoff_index,
    laplacian as laplacian,
    laplacian_spectrum as laplacian_spectrum,
)
from ._linearise import (
    Linearisation as Linearisation,
    jacobian as jacobian,
    linearise as linearise,
)
from ._lyapunov import (
    LyapunovSpectrum as LyapunovSpectrum,
    lyapunov_spectrum as lyapunov_spectrum,
)
from ._reservoir import (
    EchoStateCheck as EchoStateCheck,
    MemoryCapacity as MemoryCapacity,
    echo_state_property as echo_state_property,
    effective_spectral_radius as effective_spectral_radius,
    memory_capacity as memory_capacity,
    nrmse as nrmse,
)
from ._synchrony import (
    analytic_signal as analytic_signal,
    instantaneous_phase as instantaneous_phase,
    order_parameter as order_parameter,
    phase_locking_value as phase_locking_value,
    sync_error as sync_error,
    synchronization_matrix as synchronization_matrix,
    synchronization_series as synchronization_series,
)
