"""dynax: differentiable dynamical systems for neuroscience and machine learning."""

from . import (
    analysis as analysis,
    data as data,
    models as models,
    plot as plot,
    sweep as sweep,
    tasks as tasks,
    train as train,
)
from ._cache import enable_compilation_cache as enable_compilation_cache
from ._ensemble import (
    ensemble_size as ensemble_size,
    make_ensemble as make_ensemble,
    member as member,
)
from ._hosts import (
    gather_ensemble as gather_ensemble,
    member_mesh as member_mesh,
    shard_ensemble as shard_ensemble,
)
from ._inputs import (
    ConstantInput as ConstantInput,
    PiecewiseConstantInput as PiecewiseConstantInput,
)
from ._save import Save as Save
from ._simulate import (
    SimulateOptions as SimulateOptions,
    Trajectory as Trajectory,
    simulate as simulate,
)
from .sweep import load_sweep as load_sweep

__version__ = "0.1.0"
