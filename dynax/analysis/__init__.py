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
