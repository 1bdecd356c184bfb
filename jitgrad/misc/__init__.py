"""autograd's ``autograd.misc`` names (``flatten``, ``flatten_func``, also in ``flatten`` as in
autograd; ``fixed_point``, also in ``fixed_points``; ``optimizers`` in the submodule), so that
an autograd program's ``from autograd.misc import ...`` is one changed import line."""

from jitgrad.misc.fixed_points import fixed_point
from jitgrad.misc.flatten import flatten, flatten_func

__all__ = ["fixed_point", "flatten", "flatten_func"]
