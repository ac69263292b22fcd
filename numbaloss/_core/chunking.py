"""How a loss call splits into calls over chunks: the families' declarations for dask.

Each family's ``plans`` module has a ``chunking(name, arguments)`` function that
validates a call whose arrays may be dask arrays (through :data:`DASK_ARGS`, with
the checks and messages of the in-memory call) and returns a :class:`Chunking`:
which arguments are arrays to be cut into chunks, the *labels* of their axes (axes
with one label are cut alike; a label may be missing from an array, or an array's
axis may have length 1, where that array is broadcast along it), the labels that a
kernel needs whole (the class axis of the softmax family, CTC's time and class
axes, the feature axis of the margin family), and what ``'mean'`` divides by.
:mod:`.dask_support` builds the graph from it (see ``docs/dask.rst``); nothing here
imports dask.
"""

from dataclasses import dataclass, field

import numpy as np

from .devices import is_dask_array
from .validation import as_array


class DaskArgs:
    """The argument coercer of plans called with dask arrays (see ``HostArgs``).

    A dask array is returned as it is once its dtype passes :func:`as_array`'s checks
    (its shape is known, its values are not: checks of values run in the chunks'
    own calls); anything else goes through :func:`as_array`.
    """

    on_device = False

    @staticmethod
    def array(value, name):
        if is_dask_array(value):
            as_array(np.empty(0, dtype=value.dtype), name)  # the dtype checks, same messages
            return value
        return as_array(value, name)

    option = array


#: The coercer of plans whose arrays may be dask arrays.
DASK_ARGS = DaskArgs()


@dataclass(frozen=True)
class Share:
    """A ``'mean'`` divisor that is the sum of per-chunk shares, known only from the data.

    ``func(arguments)`` gets the chunk's arguments named in ``reads`` (chunks of the
    labelled arrays, options whole) and returns the chunk's share as a float: the
    summed class weights of the targets that are not ignored, or the summed
    element weights of a weighted mean.
    """

    func: object
    reads: tuple


@dataclass(frozen=True)
class Chunking:
    """How one call splits into chunk calls (see the module docs).

    ``arrays`` maps argument names to the labels of their axes; every other
    argument is passed to each chunk call whole.  ``loss`` are the labels of the
    unreduced loss (or of the output of a function without ``reduction``);
    ``extents`` gives the length of an output label that no argument has.  Every
    label that is not ``whole`` must be a label of the loss, so that chunks of the
    loss and chunk calls correspond one to one.  ``dtype`` is the result dtype.

    ``divisor`` is what ``'mean'`` divides by: a number known in advance, or a
    :class:`Share`.  ``row_divisors(arguments)`` (CTC) gives, for a chunk, the
    divisor of each loss element within the mean (the mean is then
    ``sum(loss / row_divisors) / divisor``).  ``per_chunk(arguments, spans)``
    adjusts a chunk's arguments inside its task (``spans`` maps each label to the
    chunk's ``(start, stop)`` along it): CTC slices its per-sample targets and
    lengths there.
    """

    arrays: dict
    loss: tuple
    dtype: np.dtype
    whole: frozenset = frozenset()
    extents: dict = field(default_factory=dict)
    divisor: object = None
    row_divisors: object = None
    per_chunk: object = None


def axis_labels(prefix, ndim):
    """``ndim`` labels ``prefix0, prefix1, ...``."""
    return tuple(f"{prefix}{i}" for i in range(ndim))


def right_aligned(labels, ndim):
    """The labels of an array of ``ndim`` dimensions broadcast against ``labels``."""
    return tuple(labels[len(labels) - ndim :]) if ndim else ()


def size(shape):
    """The number of elements of ``shape`` (a Python int)."""
    n = 1
    for s in shape:
        n *= int(s)
    return n
