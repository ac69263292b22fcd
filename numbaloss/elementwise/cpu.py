"""The CPU kernel of the elementwise losses.

``run_block_range`` is the one kernel that loops over elements for every loss
(the parameter tuples and point functions of :mod:`.points`): it fuses the loss,
the gradient(s) times ``grad_output``, with ``return_hess=True`` the second
derivatives times ``grad_output``, and the per-block partial sums in one pass
over memory.  Losses with prepasses (see :mod:`numbaloss._core.traits`) get each
prepass's loop over an in-cache sub-block of their own before the loop that
finishes the points.
"""

import numpy as np

from .._core.traits import (
    at,
    first_prepass,
    index,
    like,
    n_prepasses,
    point_and_hess_after_prepasses,
    second_prepass,
)
from .._jit import kernel_jit

#: Elements computed together through the kernel's in-cache rows, and whose
#: losses are summed in the loss's own dtype before the sum moves to float64.
#: Each loop over a sub-block pays the latency of one element's chain of
#: operations once, so longer is faster (256 was 10-18% faster than 64 for the
#: exp and log losses, and 512 slower again: the rows leave the L1 cache); short
#: enough that a float32 sum (in 32 SIMD lanes of 8 terms each) stays accurate
#: to ~1e-7.
SUB_BLOCK = 256


@kernel_jit
def run_block_range(
    params,
    a,
    b,
    c,
    d,
    gout,
    loss_out,
    grad_a,
    grad_b,
    hess_a,
    hess_b,
    n,
    block,
    partials,
    flags,
    start,
    stop,
):
    """Blocks ``start..stop``: loss (to ``loss_out`` or block sums), gradients, flags.

    ``hess_a``/``hess_b`` receive the second derivatives where they are arrays; where
    both are ``None`` the kernel is compiled without them, from the loss's ``point``
    alone (see :func:`numbaloss._core.traits.point_and_hess`).

    Each sub-block is computed into small scratch rows (losses and gradients), and
    short loops of their own then sum the losses and copy the gradients out.  The
    main loop then never writes memory it reads, so LLVM's runtime alias check
    always takes the vectorized path, also when ``grad_out`` is the input itself;
    and the loss sum is always formed by the same vectorized loop, so its bits do
    not depend on how the caller's arrays overlap.  A loss with prepasses (see
    :mod:`numbaloss._core.traits`) gets each prepass's loop over the sub-block
    first; for the others those loops are compiled away.
    """
    loss_rows = np.empty(SUB_BLOCK, dtype=a.dtype)
    grad_rows_a = np.empty(SUB_BLOCK, dtype=a.dtype)
    grad_rows_b = np.empty(SUB_BLOCK, dtype=a.dtype)
    first_rows = np.empty(SUB_BLOCK, dtype=a.dtype)
    second_rows = np.empty(SUB_BLOCK, dtype=a.dtype)
    hess_rows_a = np.empty(SUB_BLOCK if hess_a is not None else 0, dtype=a.dtype)
    hess_rows_b = np.empty(SUB_BLOCK if hess_b is not None else 0, dtype=a.dtype)
    for blk in range(start, stop):
        lo = blk * block
        hi = min(lo + block, n)
        total = 0.0
        bad = 0
        for sub in range(lo, hi, SUB_BLOCK):
            m = min(SUB_BLOCK, hi - sub)
            if n_prepasses(params) >= 1:
                for j in range(m):
                    i = index(sub + j)
                    first_rows[j] = first_prepass(params, at(a, i), at(b, i), at(c, i), at(d, i))
            if n_prepasses(params) >= 2:
                for j in range(m):
                    i = index(sub + j)
                    second_rows[j] = second_prepass(params, at(a, i), at(b, i), at(c, i), at(d, i))
            part_bad = False
            for j in range(m):
                i = index(sub + j)
                loss, ga, gb, ha, hb, flag = point_and_hess_after_prepasses(
                    params,
                    at(a, i),
                    at(b, i),
                    at(c, i),
                    at(d, i),
                    first_rows[j],
                    second_rows[j],
                    hess_a,
                    hess_b,
                )
                loss_rows[j] = loss
                g = at(gout, i)
                # (a row nobody copies out is not written: LLVM cannot drop the
                # stores itself, and they cost a tenth of binary cross entropy's time)
                if grad_a is not None:
                    grad_rows_a[j] = ga * g
                if grad_b is not None:
                    grad_rows_b[j] = gb * g
                if hess_a is not None:
                    hess_rows_a[j] = ha * g
                if hess_b is not None:
                    hess_rows_b[j] = hb * g
                part_bad |= flag
            if loss_out is not None:
                for j in range(m):
                    loss_out[index(sub + j)] = loss_rows[j]
            else:
                part = like(loss_rows[0], 0)
                for j in range(m):
                    part += loss_rows[j]
                total += np.float64(part)
            if grad_a is not None:
                for j in range(m):
                    grad_a[index(sub + j)] = grad_rows_a[j]
            if grad_b is not None:
                for j in range(m):
                    grad_b[index(sub + j)] = grad_rows_b[j]
            if hess_a is not None:
                for j in range(m):
                    hess_a[index(sub + j)] = hess_rows_a[j]
            if hess_b is not None:
                for j in range(m):
                    hess_b[index(sub + j)] = hess_rows_b[j]
            bad += part_bad
        partials[blk] = total
        flags[blk] = bad
