"""autograd's ``autograd.misc`` names (``flatten``; ``optimizers`` in the submodule), so that an
autograd program's ``from autograd.misc import ...`` is one changed import line."""

from jitgrad.flatten_util import flatten

__all__ = ["flatten"]
