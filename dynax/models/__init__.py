"""Models: vector fields and maps for one network, one state, no batch axis."""

from ._base import (
    AbstractDynamics as AbstractDynamics,
    AbstractMap as AbstractMap,
    AbstractStochasticDynamics as AbstractStochasticDynamics,
)
from ._discrete import GRU as GRU, VanillaRNN as VanillaRNN
from ._rnn import (
    CTRNN as CTRNN,
    EIRNN as EIRNN,
    AbstractRateRNN as AbstractRateRNN,
    LowRankRNN as LowRankRNN,
)
