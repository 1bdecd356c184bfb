"""jitgrad's exception classes, and locating the user's source line that caused an error."""

from __future__ import annotations

import os
import sys

_PKG_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def user_location() -> str:
    """``file:line`` of the innermost stack frame outside jitgrad (the user's code), or ''."""
    f = sys._getframe(1)
    while f is not None:
        fname = f.f_code.co_filename
        if not fname.startswith(_PKG_DIR) and not fname.startswith("<frozen"):
            return f"{fname}:{f.f_lineno}"
        f = f.f_back
    return ""


class JitgradError(Exception):
    """Base class: every error jitgrad raises on purpose carries the user's source location."""

    def __init__(self, message: str):
        loc = user_location()
        super().__init__(f"{message}\n  (at {loc})" if loc else message)


class ShapeError(JitgradError, ValueError):
    """Operand shapes (or dtypes) that an operation cannot accept."""


class JitgradTypeError(JitgradError, TypeError):
    """A value of the wrong kind: integer input to grad, non-scalar output, bad tangent dtype."""


class TracerError(JitgradError, TypeError):
    """A traced value used where a concrete one is needed (Python control flow, numpy conversion)
    or outside the transformation that created it."""


class JitgradIndexError(JitgradError, IndexError):
    """An index that does not fit the array: out of bounds, too many indices, a boolean mask of
    the wrong shape, an index of the wrong kind (numpy's IndexError)."""


class UnsupportedError(JitgradError, NotImplementedError):
    """A numpy function or feature that jitgrad does not (yet) provide."""


class BatchError(JitgradError, ValueError):
    """Inconsistent batch sizes or axes in vmap."""


class CompileError(JitgradError, RuntimeError):
    """The backend failed to compile a kernel: always a jitgrad bug, reported with the IR and
    the generated source."""
