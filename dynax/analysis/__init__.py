"""Analysis: pure, jittable functions of a model or a trajectory, returning Modules."""

from ._candidates import (
    sample_candidates as sample_candidates,
    unique_fixed_points as unique_fixed_points,
)
from ._fixed_points import (
    FixedPoints as FixedPoints,
    find_fixed_points as find_fixed_points,
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
