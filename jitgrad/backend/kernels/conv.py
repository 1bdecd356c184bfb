"""conv_general_dilated compiled: im2col into jitgrad's matmul, or matmul then col2im for
convolutions that are transposes (fewer output than input features, or a dilated input).

Patch matrices are built by one strided numpy copy of a window view (numpy's copy loops
vectorise over the inner axis; a Numba loop over rows of 32 measured 4-8x slower here), and
scattered products are added back by one strided numpy add per kernel element, so the only
compiled code is the matmul. Scratch buffers live with the step and are reused across calls
(a fresh page costs a page fault each), counted with the memory every compiled program keeps
(``config.scratch_mb``) and released with it."""

from __future__ import annotations

import math
import threading

import numpy as np
from numpy.lib.stride_tricks import as_strided

from jitgrad.backend.runtime import retain, run_matmul

# Scratch (patch matrix or scattered products) per matmul call, in elements: a batch is split
# into chunks of images so that it stays bounded.
_SCRATCH = 1 << 22


def build(*, window_strides: tuple, padding: tuple, lhs_dilation: tuple, rhs_dilation: tuple,
          dimension_numbers: tuple, feature_group_count: int, batch_group_count: int
          ) -> Step:
    """The step ``(lhs, rhs, out)`` writing the convolution of ``lhs`` and ``rhs`` into
    ``out`` (C-contiguous, of the result's shape and dtype)."""
    return Step((window_strides, padding, lhs_dilation, rhs_dilation, feature_group_count,
                 batch_group_count), dimension_numbers)


class Step:
    """A compiled convolution and the scratch sets it keeps between calls (one per concurrent
    call), as a program's ``Buffers`` keep workspaces."""

    def __init__(self, params: tuple, dimension_numbers: tuple) -> None:
        self._params = params
        self._specs = dimension_numbers
        self._free: list[_Scratch] = []
        self._sets = 0  # scratch sets made since the last release, in use or free
        self._lock = threading.Lock()

    def __call__(self, lhs: np.ndarray, rhs: np.ndarray, out: np.ndarray) -> None:
        with self._lock:
            if self._free:
                scratch = self._free.pop()
            else:
                self._sets += 1
                scratch = _Scratch(self)
        strides, pads, ld, rd, groups, batch_groups = self._params
        lhs_spec, rhs_spec, out_spec = self._specs
        _conv(np.transpose(lhs, lhs_spec), np.transpose(rhs, rhs_spec),
              np.transpose(out, out_spec), strides, pads, ld, rd, groups, batch_groups, False,
              scratch)
        with self._lock:
            if len(self._free) < self._sets:  # not a set taken before a release
                self._free.append(scratch)

    def release(self) -> None:
        """Drop the kept scratch (a call running meanwhile keeps its own set until it ends)."""
        with self._lock:
            self._free = []
            self._sets = 0


class _Scratch:
    """One call's scratch arrays, by role and shape, kept for the next call."""

    def __init__(self, owner: Step) -> None:
        self._owner = owner
        self._arrays: dict[tuple, np.ndarray] = {}

    def empty(self, role: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        key = (role, shape, dtype)
        buf = self._arrays.get(key)
        if buf is None:
            buf = self._arrays[key] = np.empty(shape, dtype)
            retain(self._owner, buf.nbytes)
        return buf


def _dilate(d: int, r: int) -> int:
    return 0 if d == 0 else 1 + r * (d - 1)


def _conv(x: np.ndarray, w: np.ndarray, out: np.ndarray, strides: tuple, pads: tuple,
          ld: tuple, rd: tuple, groups: int, batch_groups: int, add: bool,
          scratch: _Scratch) -> None:
    """``out = conv(x, w)`` (``out += conv(x, w)`` if ``add``) on canonical views: x (N, C,
    spatial), w (O, I, kernel), out (N', O, out spatial)."""
    if not out.size:
        return
    if not w.shape[1] or not math.prod(w.shape[2:]):  # empty sums
        if not add:
            out[...] = 0
        return
    nsp = x.ndim - 2
    if nsp > 3:
        # One spatial axis at a time: output plane u gathers kernel plane a from the input
        # plane at dilated, padded coordinate u*s + a*r (a zero plane between dilated ones).
        if not add:
            out[...] = 0
        (s, *strides), ((lo, _), *pads) = strides, pads
        (l0, *ld), (r0, *rd) = ld, rd
        for u in range(out.shape[2]):
            for a in range(w.shape[2]):
                pos = u * s + a * r0 - lo
                if pos >= 0 and pos % l0 == 0 and pos // l0 < x.shape[2]:
                    _conv(x[:, :, pos // l0], w[:, :, a], out[:, :, u], tuple(strides),
                          tuple(pads), tuple(ld), tuple(rd), groups, batch_groups, True,
                          scratch)
        return
    # Up to three spatial axes: leading unit axes make it exactly three.
    unit = (1,) * (3 - nsp)
    x = x.reshape(x.shape[:2] + unit + x.shape[2:])
    w = w.reshape(w.shape[:2] + unit + w.shape[2:])
    out = out.reshape(out.shape[:2] + unit + out.shape[2:])
    strides, ld, rd = unit + tuple(strides), unit + tuple(ld), unit + tuple(rd)
    pads = ((0, 0),) * (3 - nsp) + tuple(pads)
    n_out, o = out.shape[:2]
    og, nb = o // max(groups, batch_groups), x.shape[0] // batch_groups
    cg = w.shape[1]
    k, p, q = math.prod(w.shape[2:]), math.prod(out.shape[2:]), math.prod(x.shape[2:])
    # Gathering patches costs cg*k*p per image, scattering products og*k*q: the second wins
    # for transposed convolutions (a dilated input, or fewer output than input features).
    scatter = batch_groups == 1 and og * q < cg * p
    if scatter and not add:
        out[...] = 0
    xp = None if scatter else _padded(x, pads, ld, scratch)
    step = max(1, _SCRATCH // (k * (og * q if scatter else cg * p)))
    for j in range(max(groups, batch_groups)):
        xj = x[j * nb:(j + 1) * nb] if batch_groups > 1 else x[:, j * cg:(j + 1) * cg]
        wj = w[j * og:(j + 1) * og]
        outj = out[:, j * og:(j + 1) * og]
        for n0 in range(0, n_out, step):
            n1 = min(n_out, n0 + step)
            if scatter:
                _scatter(xj[n0:n1], wj, outj[n0:n1], strides, pads, ld, rd, scratch)
            else:
                xpj = xp[j * nb + n0:j * nb + n1] if batch_groups > 1 else \
                    xp[n0:n1, j * cg:(j + 1) * cg]
                _gather(xpj, wj, outj[n0:n1], strides, rd, add, scratch)


def _padded(x: np.ndarray, pads: tuple, ld: tuple, scratch: _Scratch) -> np.ndarray:
    """x dilated and padded (cropped where the padding is negative), C-contiguous."""
    shape = x.shape[:2] + tuple(_dilate(n, r) + lo + hi for n, r, (lo, hi) in
                                zip(x.shape[2:], ld, pads, strict=True))
    if x.flags.c_contiguous and all(pad == (0, 0) for pad in pads) and set(ld) == {1}:
        return x
    xp = scratch.empty("padded", shape, x.dtype)
    xp[...] = 0
    src, dst = [slice(None)] * 2, [slice(None)] * 2
    for n, r, (lo, _), size in zip(x.shape[2:], ld, pads, shape[2:], strict=True):
        # Input element i lands at i*r + lo; keep those inside [0, size).
        first = max(0, -(lo // r))
        last = min(n - 1, (size - 1 - lo) // r)
        count = max(0, last - first + 1)
        src.append(slice(first, first + count))
        start = first * r + lo
        dst.append(slice(start, start + (count - 1) * r + 1, r) if count else slice(0, 0))
    xp[tuple(dst)] = x[tuple(src)]
    return xp


def _matrix(role: str, a: np.ndarray, shape: tuple[int, ...], scratch: _Scratch) -> np.ndarray:
    """``a`` reshaped to ``shape``: a view when its layout allows, else a scratch copy."""
    if a.flags.c_contiguous:
        return a.reshape(shape)
    buf = scratch.empty(role, a.shape, a.dtype)
    np.copyto(buf, a)
    return buf.reshape(shape)


def _gather(xp: np.ndarray, w: np.ndarray, out: np.ndarray, strides: tuple, rd: tuple,
            add: bool, scratch: _Scratch) -> None:
    """out (n, og, P) = w (og, cg*K) @ patches (``+=`` if ``add``). The patch matrix is one
    strided copy of every window of xp, its inner axis the longer of the output row and the
    kernel row. With long output rows: (cg*K, P) per image, one batched matmul. With long
    kernel rows (small outputs, large kernels: a kernel gradient), per input feature the
    (n*P, K) patches times that feature's (og, K) kernel slice transposed, one matmul
    batched over the features, then summed: the kernel is read in place, where its
    (og, cg*K) matrix would be a copy (its feature axis is outermost in a kernel gradient's
    kernel, the cotangent)."""
    n, cg = xp.shape[:2]
    og = w.shape[0]
    kshape, oshape = w.shape[2:], out.shape[2:]
    k, p = math.prod(kshape), math.prod(oshape)
    st = xp.strides
    at_k = tuple(a * r for a, r in zip(st[2:], rd, strict=True))
    at_p = tuple(a * s for a, s in zip(st[2:], strides, strict=True))
    if oshape[2] >= kshape[2]:
        ck = cg * k
        wm = _matrix("weights", w, (1, og, ck), scratch)
        cols = scratch.empty("patches", (n, cg) + kshape + oshape, xp.dtype)
        np.copyto(cols, as_strided(xp, cols.shape, st[:2] + at_k + at_p))
        direct = not add and out.flags.c_contiguous
        res = out.reshape(n, og, p) if direct else scratch.empty("product", (n, og, p),
                                                                 out.dtype)
        run_matmul(wm, cols.reshape(n, ck, p), False, False, (n, og, ck), None, None, res)
        if direct:
            return
        res = res.reshape(out.shape)
    else:
        cols = scratch.empty("patches", (cg, n) + oshape + kshape, xp.dtype)
        np.copyto(cols, as_strided(xp, cols.shape, (st[1], st[0]) + at_p + at_k))
        # (patches @ kernel^T): the patches are read in place by the matmul, only the
        # kernel slices are packed (measured 0.84 ms against 1.17 the other way round).
        part = scratch.empty("product", (cg, n * p, og), out.dtype)
        run_matmul(cols.reshape(cg, n * p, k), np.moveaxis(w.reshape(og, cg, k), 1, 0), False,
                   True, None, None, None, part)
        res = np.moveaxis(part.sum(axis=0).reshape((n,) + oshape + (og,)), -1, 1)
    if add:
        out += res
    else:
        out[...] = res


def _scatter(x: np.ndarray, w: np.ndarray, out: np.ndarray, strides: tuple, pads: tuple,
             ld: tuple, rd: tuple, scratch: _Scratch) -> None:
    """out += col2im(w^T x): every input element times every kernel element, added where the
    window placing that kernel element on that input element sits (one strided add per
    kernel element)."""
    n, cg = x.shape[:2]
    og = w.shape[0]
    kshape, qshape = w.shape[2:], x.shape[2:]
    k, q = math.prod(kshape), math.prod(qshape)
    wt = _matrix("weights", np.moveaxis(w.reshape(og, cg, k), 1, 2), (1, og * k, cg), scratch)
    z = scratch.empty("products", (n, og * k, q), x.dtype)
    run_matmul(wt, _matrix("input", x, (n, cg, q), scratch), False, False, (n, og * k, cg),
               None, None, z)
    z = z.reshape((n, og) + kshape + qshape)
    for a in np.ndindex(*kshape):
        src, dst = [], []
        for nq, ka, dil, (lo, _), r, s, npos in zip(qshape, a, ld, pads, rd, strides,
                                                    out.shape[2:], strict=True):
            first, qstep, pfirst, pstep, count = _progression(nq, dil, lo - ka * r, s, npos)
            src.append(slice(first, first + (count - 1) * qstep + 1, qstep) if count else
                       slice(0, 0))
            dst.append(slice(pfirst, pfirst + (count - 1) * pstep + 1, pstep) if count else
                       slice(0, 0))
        out[(slice(None),) * 2 + tuple(dst)] += z[(slice(None),) * 2 + a + tuple(src)]


def _progression(nq: int, ld: int, c: int, s: int, npos: int) -> tuple[int, int, int, int, int]:
    """The input positions q < nq whose dilated coordinate q*ld + c is a window start p*s
    with 0 <= p < npos: (first q, q step, first p, p step, count)."""
    qstep = s // math.gcd(ld, s)
    q = max(0, -(c // ld))  # the first q with q*ld + c >= 0
    for _ in range(qstep):
        if (q * ld + c) % s == 0:
            break
        q += 1
    if q >= nq or (q * ld + c) % s or (q * ld + c) // s >= npos:
        return 0, 1, 0, 1, 0
    p, pstep = (q * ld + c) // s, ld * qstep // s
    return q, qstep, p, pstep, min((nq - 1 - q) // qstep + 1, (npos - 1 - p) // pstep + 1)
