"""Models: vector fields and maps for one network, one state, no batch axis."""

from ._base import (
    AbstractDynamics as AbstractDynamics,
    AbstractFeedbackReservoir as AbstractFeedbackReservoir,
    AbstractMap as AbstractMap,
    AbstractReservoir as AbstractReservoir,
    AbstractSteppedMap as AbstractSteppedMap,
    AbstractStochasticDynamics as AbstractStochasticDynamics,
)
from ._classic import (
    Lorenz as Lorenz,
    Lorenz96 as Lorenz96,
    Rossler as Rossler,
    VanDerPol as VanDerPol,
)
from ._coupling import (
    AbstractCoupling as AbstractCoupling,
    DenseCoupling as DenseCoupling,
    MeanField as MeanField,
    SparseCoupling as SparseCoupling,
)
from ._delayed import DelayBuffer as DelayBuffer, DelayedKuramoto as DelayedKuramoto
from ._discrete import GRU as GRU, VanillaRNN as VanillaRNN
from ._ei_reservoir import (
    EIAdaptiveReservoir as EIAdaptiveReservoir,
    lognormal_rates as lognormal_rates,
)
from ._gradient_network import CoupledGradientNetwork as CoupledGradientNetwork
from ._graphs import (
    complete_graph as complete_graph,
    edges_from_adjacency as edges_from_adjacency,
    erdos_renyi_graph as erdos_renyi_graph,
    path_graph as path_graph,
    ring_graph as ring_graph,
    watts_strogatz_graph as watts_strogatz_graph,
)
from ._langevin import UnderdampedLangevin as UnderdampedLangevin
from ._langevin_flow import LangevinFlow as LangevinFlow
from ._lif import LIFReservoir as LIFReservoir, LIFState as LIFState
from ._oscillators import Kuramoto as Kuramoto, StuartLandau as StuartLandau
from ._potentials import (
    AbstractPotential as AbstractPotential,
    CoupledOscillatorPotential as CoupledOscillatorPotential,
    MLPPotential as MLPPotential,
)
from ._reservoir import ESN as ESN
from ._reservoir_init import (
    scale_to_spectral_radius as scale_to_spectral_radius,
    sparse_matrix as sparse_matrix,
    spectral_radius as spectral_radius,
)
from ._rnn import (
    CTRNN as CTRNN,
    EIRNN as EIRNN,
    AbstractRateRNN as AbstractRateRNN,
    LowRankRNN as LowRankRNN,
)
