"""autograd's ``autograd.misc.flatten`` module: ``flatten`` and ``flatten_func``."""

from jitgrad.flatten_util import flatten, flatten_func

__all__ = ["flatten", "flatten_func"]
