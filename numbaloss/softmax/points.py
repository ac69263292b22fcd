"""The softmax family's device-neutral math: parameter tuples and per-row formulas.

One row of logits is summarised by

* ``m``, the largest logit,
* ``e_t = exp(x_t - m)`` and ``s_rest``, the sum of ``exp(x_c - m)`` over the other
  classes (summed apart, so that ``1 - p_t = s_rest / (e_t + s_rest)`` keeps its
  precision for confident logits),
* with label smoothing, ``sd = sum_c w_c (m - x_c)``,

and :func:`row_terms` (the ``terms`` of :class:`CrossEntropy` or :class:`Focal`)
turns them into the row's loss and the three factors of its gradient,
``grad_c = p_c * A - B * [c == t] - D * w_c``; :func:`log_sum` and
:func:`target_grad` are the row's logarithm and the target's gradient entry.
:func:`prob_weight` and :func:`prob_loss` are the same for class-probability
targets.

The diagonal of the Hessian with respect to the logits (``return_hess=True``) is

    ``hess_c = A p_c (1 - p_c) + K r_c**2``, with ``r_t = 1`` and ``r_c = -p_c / (1 - p_t)``

(:func:`row_hess`): the smoothing and weight terms are linear in the logits and
``d^2 lse / dx_c^2 = p_c (1 - p_c)``, so cross entropy's ``K`` is 0; the focal
factor's dependence on ``p_t`` gives the focal loss its ``K``
(:func:`row_hess_terms`, the ``hess_terms`` of the parameter tuples).

Nothing here loops over data: :mod:`.plans` builds the parameter tuples, and the
CPU kernels (:mod:`.cpu`) and the CUDA kernels (:mod:`.cuda`) compile the same
functions into their loops.  The CPU kernels are compiled with ``reassoc`` and
these ``math_jit`` helpers are inlined into them at numba's IR level, so
precision-critical expressions are written so that no regrouping can hurt them
(see :func:`log_sum`), and the helpers use single assignments (a variable
reassigned in a branch of an IR-inlined helper was seen to be miscompiled).
"""

from collections import namedtuple

from .._core.traits import static_dispatch
from .._core.vecmath import exp, log, log1p
from .._jit import math_jit

#: What the stable primitives' kernels write (``cpu.softmax_rows``, ``cuda.primitive_kernel``).
LOGSUMEXP, LOG_SOFTMAX, SOFTMAX = 0, 1, 2


# --- class-index targets ---------------------------------------------------------


class CrossEntropy(namedtuple("CrossEntropy", ["ignore_index", "smoothing"])):
    """Cross entropy with class-index targets and label smoothing ``smoothing``.

    ``terms(params, C, log_s, nll, e_t, s_rest, sd, w_t, w_sum, a, b)`` returns the
    row's two loss terms (the target term and the smoothing term, which ``'mean'``
    divides alike) and the gradient factors ``A, B, D`` of
    ``grad_c = p_c A - B [c == t] - D w_c``.  ``log_s`` is ``log(e_t + s_rest)``,
    ``nll = -log p_t``; ``a``, ``b`` scale the two terms (``grad_output``, divided
    by the divisor of ``'mean'``).  Plain arithmetic, so that it inlines and the
    small-class kernel's loop over rows stays vectorized.
    """

    @staticmethod
    @math_jit
    def terms(params, n_classes, log_s, nll, e_t, s_rest, sd, w_t, w_sum, a, b):
        eps = params.smoothing
        keep = 1 - eps
        spread = eps / n_classes
        part0 = keep * w_t * nll
        part1 = spread * (sd + w_sum * log_s) if eps != 0 else 0.0 * nll
        big_b = a * keep * w_t
        return part0, part1, big_b + b * spread * w_sum, big_b, b * spread

    @staticmethod
    @math_jit
    def hess_terms(params, n_classes, log_s, nll, e_t, s_rest, sd, w_t, w_sum, a, b):
        """``K`` of the Hessian's diagonal (module docs): 0, the loss being ``lse``
        times a constant plus terms linear in the logits."""
        return 0.0 * nll


class Focal(namedtuple("Focal", ["ignore_index", "smoothing", "gamma"])):
    """Softmax focal loss ``-w_t (1 - p_t)**gamma log p_t`` (``gamma > 0``; ``smoothing`` is 0).

    Same ``terms`` interface as :class:`CrossEntropy`.  With ``p = p_t``:
    ``grad_c = F (p_c - [c == t])``, ``F = w_t ((1-p)**g - g p (1-p)**(g-1) log p)``,
    formed in log space (``log(1 - p) = log s_rest - log_s``), so that
    ``0 < gamma < 1`` stays finite as ``p -> 1``.

    The Hessian's diagonal is ``F p_c (1 - p_c) - F'(p) p ([c == t] - p_c)**2``;
    with ``q = 1 - p`` and ``(c == t) - p_c = q r_c`` its second term is ``K r_c**2``,
    ``K = w_t p q**g (g (2 + log p) q - g (g - 1) p log p)`` (:meth:`hess_terms`).
    """

    @staticmethod
    @math_jit
    def terms(params, n_classes, log_s, nll, e_t, s_rest, sd, w_t, w_sum, a, b):
        # Single assignments only: math_jit helpers are inlined at numba's IR level,
        # where a variable reassigned in a branch can be mistranslated.
        gamma = params.gamma
        p_t = e_t / (e_t + s_rest)
        log_q = log(s_rest) - log_s  # log(1 - p_t)
        q_gamma = exp(gamma * log_q)
        second = gamma * p_t * exp((gamma - 1) * log_q + log(nll))
        zero = 0.0 * nll
        # p_t == 1 (s_rest == 0): both terms vanish for gamma > 0
        factor = w_t * (q_gamma + (zero if s_rest == 0 else second))
        return w_t * q_gamma * nll, zero, a * factor, a * factor, zero

    @staticmethod
    @math_jit
    def hess_terms(params, n_classes, log_s, nll, e_t, s_rest, sd, w_t, w_sum, a, b):
        """``K`` of the Hessian's diagonal (see the class docs); 0 where ``p_t == 1``."""
        gamma = params.gamma
        s = e_t + s_rest
        p_t = e_t / s
        q = s_rest / s
        log_p = -nll
        q_gamma = exp(gamma * (log(s_rest) - log_s))
        k = a * w_t * p_t * q_gamma * (gamma * (2 + log_p) * q - gamma * (gamma - 1) * p_t * log_p)
        return 0.0 * nll if s_rest == 0 else k


#: ``type(params).terms(params, ...)``, dispatched at compile time (see
#: :class:`CrossEntropy`).  Not IR-inlined (``inline=False``): inlining
#: ``Focal.terms`` into the CPU kernels corrupted the values computed before it.
row_terms = static_dispatch(
    "terms", "n_classes log_s nll e_t s_rest sd w_t w_sum a b", name="row_terms", inline=False
)

#: ``type(params).hess_terms(params, ...)``: the ``K`` of the Hessian's diagonal
#: (module docs), with the arguments of :data:`row_terms`.
row_hess_terms = static_dispatch(
    "hess_terms",
    "n_classes log_s nll e_t s_rest sd w_t w_sum a b",
    name="row_hess_terms",
    inline=False,
)


@math_jit
def row_hess(e_c, s, big_a_over_s2, k, inv_rest):
    """The Hessian's diagonal entry of a class ``c`` other than the target:
    ``A p_c (1 - p_c) + K (p_c / (1 - p_t))**2`` from ``e_c = exp(x_c - m)``, the
    row's sum ``s``, ``A / s**2`` and ``1 / s_rest`` (0 where ``s_rest`` is 0)."""
    r = e_c * inv_rest
    return e_c * (big_a_over_s2 * (s - e_c)) + k * (r * r)


@math_jit
def target_hess(e_t, s_rest, big_a_over_s2, k):
    """The target's entry ``A p_t (1 - p_t) + K``, with ``1 - p_t`` from ``s_rest``."""
    return big_a_over_s2 * (e_t * s_rest) + k


@math_jit
def target_grad(e_t, s_rest, big_a, big_b, d_w_t):
    """``p_t A - B - D w_t`` as ``(e_t (A - B) - B s_rest) / s - D w_t``.

    ``p_t A - B`` would lose ``1 - p_t`` when ``p_t`` rounds to 1; ``s_rest / s``
    keeps it.
    """
    return (e_t * (big_a - big_b) - big_b * s_rest) / (e_t + s_rest) - d_w_t


@math_jit
def log_sum(e_t, s_rest):
    """``log(e_t + s_rest)``, accurate when ``e_t == 1`` and ``s_rest`` is tiny."""
    # e_t == 1 when the target holds the maximum: log1p(s_rest) keeps a tiny
    # s_rest (kernels are compiled with reassoc, so ``(e_t - 1) + s_rest`` could
    # be regrouped); otherwise s_rest >= 1 and the sum loses nothing.
    return log1p(s_rest if e_t == 1 else (e_t + s_rest) - 1)


# --- probability targets ---------------------------------------------------------------


@math_jit
def prob_weight(w_c, prob_c, keep, spread):
    """``w_c q_c`` with the smoothed target ``q_c = keep * prob_c + spread``."""
    return w_c * (keep * prob_c + spread)


@math_jit
def prob_loss(dot, big_s, s):
    """The row loss ``sum_c w_c q_c (m - x_c) + S log s`` from its sums."""
    return dot + big_s * log(s)
