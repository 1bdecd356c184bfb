"""autograd's ``autograd.misc`` names, so that an autograd program's ``from autograd.misc import
...`` is one changed import line: ``fixed_point`` (also in ``fixed_points``, as in autograd)."""

from jitgrad.misc.fixed_points import fixed_point

__all__ = ["fixed_point"]
