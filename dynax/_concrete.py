"""Whether a value is known on the host (a leaf module: imports nothing from dynax)."""

import jax
import numpy as np


def is_concrete(x) -> bool:
    """Whether ``x`` holds concrete values (not a tracer under jit/vmap/grad)."""
    try:
        np.asarray(x)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return False
    return True
