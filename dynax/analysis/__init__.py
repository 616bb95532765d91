"""Analysis: pure, jit- and vmap-friendly functions of models and trajectories."""

from ._autocorrelation import (
    autocorrelation as autocorrelation,
    expected_autocorrelation as expected_autocorrelation,
)
from ._branching import (
    BranchingFactor as BranchingFactor,
    branching_factor as branching_factor,
)
from ._candidates import (
    sample_candidates as sample_candidates,
    unique_fixed_points as unique_fixed_points,
)
from ._clamp import Clamp as Clamp, Patch as Patch
from ._degeneracy import (
    DegeneracyReport as DegeneracyReport,
    degeneracy_report as degeneracy_report,
)
from ._dsa import (
    DMD as DMD,
    DSAMatrix as DSAMatrix,
    DSAResult as DSAResult,
    dsa as dsa,
    dsa_matrix as dsa_matrix,
    hankel as hankel,
)
from ._emissions import (
    EmissionStatistics as EmissionStatistics,
    emission_statistics as emission_statistics,
)
from ._fixed_points import (
    FixedPoints as FixedPoints,
    find_fixed_points as find_fixed_points,
)
from ._geometry import (
    ClosedOrbit as ClosedOrbit,
    SpeedSegments as SpeedSegments,
    closed_orbit as closed_orbit,
    speed as speed,
    speed_segments as speed_segments,
)
from ._intervened import (
    AbstractIntervened as AbstractIntervened,
    intervene as intervene,
)
from ._interventions import (
    Ablate as Ablate,
    AbstractIntervention as AbstractIntervention,
)
from ._kick import AddNoise as AddNoise, Kick as Kick
from ._kick_neurons import KickNeurons as KickNeurons, kick_neurons as kick_neurons
from ._laplacian import (
    ConsensusNoise as ConsensusNoise,
    algebraic_connectivity as algebraic_connectivity,
    consensus_noise as consensus_noise,
    kirchhoff_index as kirchhoff_index,
    laplacian as laplacian,
    laplacian_spectrum as laplacian_spectrum,
)
from ._learning_regime import (
    LearningRegime as LearningRegime,
    learning_regime as learning_regime,
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
from ._nlb import (
    bits_per_spike as bits_per_spike,
    co_bps as co_bps,
    fp_bps as fp_bps,
    psth_r2 as psth_r2,
)
from ._nlb_decoding import velocity_r2 as velocity_r2
from ._pca import PCA as PCA, pca as pca
from ._perturb import (
    PerturbResponse as PerturbResponse,
    perturb_response as perturb_response,
)
from ._procrustes import (
    Procrustes as Procrustes,
    vector_field_procrustes as vector_field_procrustes,
)
from ._regime import (
    EffectiveRank as EffectiveRank,
    WeightChange as WeightChange,
    effective_rank as effective_rank,
    weight_change as weight_change,
)
from ._reservoir import (
    EchoStateCheck as EchoStateCheck,
    MemoryCapacity as MemoryCapacity,
    echo_state_property as echo_state_property,
    effective_spectral_radius as effective_spectral_radius,
    memory_capacity as memory_capacity,
    nrmse as nrmse,
)
from ._similarity import (
    kernel_alignment as kernel_alignment,
    linear_cka as linear_cka,
    linear_cka_matrix as linear_cka_matrix,
    procrustes_distance as procrustes_distance,
    procrustes_matrix as procrustes_matrix,
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
from ._timescales import (
    NetworkTimescales as NetworkTimescales,
    Timescale as Timescale,
    autocorrelation_timescale as autocorrelation_timescale,
    network_timescales as network_timescales,
)
from ._weights import (
    PermutationDistance as PermutationDistance,
    PermutationDistanceMatrix as PermutationDistanceMatrix,
    permutation_distance as permutation_distance,
    permutation_distance_matrix as permutation_distance_matrix,
)
