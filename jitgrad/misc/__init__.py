"""autograd's ``autograd.misc`` names (``flatten``, ``fixed_point``, also in ``fixed_points`` as
in autograd; ``optimizers`` in the submodule), so that an autograd program's ``from autograd.misc
import ...`` is one changed import line."""

from jitgrad.flatten_util import flatten
from jitgrad.misc.fixed_points import fixed_point

__all__ = ["fixed_point", "flatten"]
