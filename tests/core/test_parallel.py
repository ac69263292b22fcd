"""Threads, forks and determinism of the block scheduler."""

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import numbaloss as nl
from numbaloss._core import parallel

N = 3 * parallel.MIN_PARALLEL_WORK + 12345  # several blocks, split across threads


@pytest.fixture
def big(rng):
    x = rng.standard_normal(N).astype(np.float32)
    y = rng.standard_normal(N).astype(np.float32)
    return x, y


@pytest.fixture
def restore_threads(any_thread_count):
    """Any thread count may be set (see ``any_thread_count``), and is restored after."""


def _all_results(x, y):
    out = []
    for f in (nl.mse_loss, nl.l1_loss, nl.binary_cross_entropy_with_logits, nl.soft_margin_loss):
        loss, grad = f(
            x, np.abs(y) % 1 if f is nl.binary_cross_entropy_with_logits else y, return_grad=True
        )
        out.append((loss.tobytes(), grad.tobytes()))
    return out


def test_bitwise_identical_across_thread_counts(big, restore_threads):
    x, y = big
    nl.set_num_threads(1)
    one = _all_results(x, y)
    for n in (2, 3, 8):
        nl.set_num_threads(n)
        assert _all_results(x, y) == one, n


def test_numba_thread_setting_does_not_change_bits(big):
    import numba

    x, y = big
    default = _all_results(x, y)
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        assert _all_results(x, y) == default
    finally:
        numba.set_num_threads(before)


def test_repeated_calls_identical(big):
    x, y = big
    first = _all_results(x, y)
    for _ in range(5):
        assert _all_results(x, y) == first


def test_sum_of_many_float32_terms_is_accurate(rng):
    x = rng.uniform(0, 1, 10**7).astype(np.float32)
    y = np.zeros_like(x)
    exact = np.sum(x.astype(np.float64))
    got = nl.l1_loss(x, y, reduction="sum")
    assert got.dtype == np.float32
    assert abs(float(got) - exact) / exact < 1e-6


def test_eight_threads_at_once_give_the_same_bits(big, restore_threads):
    x, y = big
    nl.set_num_threads(2)
    expected = _all_results(x, y)
    results = [None] * 8
    errors = []

    def work(i):
        try:
            for _ in range(3):
                results[i] = _all_results(x, y)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(r == expected for r in results)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_forked_child_works_after_parent_used_threads(big, restore_threads):
    x, y = big
    nl.set_num_threads(2)
    expected = nl.mse_loss(x, y)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            value = nl.mse_loss(x, y)
            os.write(write, b"ok" if value == expected else b"wrong")
        except BaseException:
            os.write(write, b"error")
        finally:
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    answer = os.read(read, 16)
    os.close(read)
    assert status == 0
    assert answer == b"ok"


def test_import_does_not_import_cuda_or_compile():
    code = (
        "import sys, numbaloss, numpy as np; "
        "numbaloss.mse_loss(np.ones(3), np.zeros(3)); "
        "print(any(m.startswith('numba.cuda') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_split_covers_the_range():
    assert parallel.split(10, 3) == [(0, 3), (3, 6), (6, 10)]
    assert parallel.split(2, 8) == [(0, 1), (1, 2)]


@pytest.mark.parametrize("kind", [int, np.int64, np.int32, np.uint8, np.intp])
def test_set_num_threads_takes_any_integer_type(kind, restore_threads):
    nl.set_num_threads(kind(1))
    assert nl.get_num_threads() == 1
    assert type(nl.get_num_threads()) is int


@pytest.mark.parametrize("n", [2.0, "2", None, True, np.True_, np.float64(2)])
def test_set_num_threads_refuses_non_integers(n):
    before = nl.get_num_threads()
    with pytest.raises(TypeError, match="n must be an integer number of threads"):
        nl.set_num_threads(n)
    assert nl.get_num_threads() == before


@pytest.mark.parametrize("n", [0, -1, np.int64(0)])
def test_set_num_threads_refuses_fewer_than_one(n):
    with pytest.raises(ValueError, match="at least 1"):
        nl.set_num_threads(n)


def test_set_num_threads_refuses_more_threads_than_cpus():
    cpus = parallel.available_cpus()
    before = nl.get_num_threads()
    with pytest.raises(ValueError, match=f"more than the {cpus} CPUs"):
        nl.set_num_threads(cpus + 1)
    assert nl.get_num_threads() == before


def _threads_in_fresh_process(**env):
    """``get_num_threads()`` (or the error) in a fresh interpreter with ``env`` set."""
    full = {
        k: v
        for k, v in os.environ.items()
        if k not in ("NUMBA_NUM_THREADS", "NUMBALOSS_NUM_THREADS")
    }
    full.update(env)
    code = (
        "import numbaloss as nl\n"
        "try:\n    print(nl.get_num_threads())\n"
        "except ValueError as exc:\n    print('ValueError', exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=full
    )
    return out.stdout.strip()


def test_numba_num_threads_caps_the_default():
    assert _threads_in_fresh_process(NUMBA_NUM_THREADS="1") == "1"
    cpus = parallel.available_cpus()
    # numba's variable above the CPUs adds no threads
    assert _threads_in_fresh_process(NUMBA_NUM_THREADS=str(cpus + 3)) == str(cpus)
    assert _threads_in_fresh_process() == str(cpus)


def test_numbaloss_num_threads_overrides_numba_num_threads():
    cpus = parallel.available_cpus()
    got = _threads_in_fresh_process(NUMBALOSS_NUM_THREADS=str(cpus), NUMBA_NUM_THREADS="1")
    assert got == str(cpus)
    assert _threads_in_fresh_process(NUMBALOSS_NUM_THREADS="1") == "1"


def test_numbaloss_num_threads_is_checked():
    cpus = parallel.available_cpus()
    got = _threads_in_fresh_process(NUMBALOSS_NUM_THREADS=str(cpus + 1))
    assert got.startswith("ValueError") and f"more than the {cpus} CPUs" in got
    got = _threads_in_fresh_process(NUMBALOSS_NUM_THREADS="two")
    assert got.startswith("ValueError") and "NUMBALOSS_NUM_THREADS must be a positive" in got


def _recording_kernel(seen, fail_at=None, delay_first=0.0):
    """A kernel that records the ranges it ran (optionally raising, or stalling once)."""
    lock = threading.Lock()
    first = threading.Event()

    def kernel(start, stop):
        if delay_first and not first.is_set():
            first.set()
            threading.Event().wait(delay_first)
        if fail_at is not None and start <= fail_at < stop:
            raise ZeroDivisionError(f"chunk {start}..{stop}")
        with lock:
            seen.append((start, stop, threading.get_ident()))

    return kernel


def test_chunks_cover_every_item_exactly_once(restore_threads):
    nl.set_num_threads(2)
    seen = []
    n_items = 1000
    parallel.run_ranges(_recording_kernel(seen), n_items, parallel.MIN_PARALLEL_WORK)
    covered = sorted((start, stop) for start, stop, _ in seen)
    assert covered[0][0] == 0 and covered[-1][1] == n_items
    assert all(a[1] == b[0] for a, b in zip(covered, covered[1:]))
    assert len(covered) == 2 * parallel.CHUNKS_PER_THREAD


def test_a_stalled_thread_takes_fewer_chunks(restore_threads):
    # The thread that stalls on its first chunk leaves the rest to the other one.
    nl.set_num_threads(2)
    seen = []
    parallel.run_ranges(_recording_kernel(seen, delay_first=0.3), 1000, parallel.MIN_PARALLEL_WORK)
    per_thread = {}
    for _, _, ident in seen:
        per_thread[ident] = per_thread.get(ident, 0) + 1
    assert sum(per_thread.values()) == 2 * parallel.CHUNKS_PER_THREAD
    assert max(per_thread.values()) >= 2 * parallel.CHUNKS_PER_THREAD - 1


def test_an_error_in_one_chunk_is_raised_after_all_threads_stop(restore_threads):
    nl.set_num_threads(2)
    seen = []
    with pytest.raises(ZeroDivisionError, match="chunk"):
        parallel.run_ranges(_recording_kernel(seen, fail_at=999), 1000, parallel.MIN_PARALLEL_WORK)
    # nothing still runs once the call has returned
    count = len(seen)
    threading.Event().wait(0.05)
    assert len(seen) == count
