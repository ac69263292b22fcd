"""Check the CUDA back end on a GPU, in one command: tests, then speed.

::

    python -m numbaloss.cuda_check                 # tests/cuda on the GPU, then the speed table
    python -m numbaloss.cuda_check --bench-only --size 100000000
    python -m numbaloss.cuda_check --ptx --cc 9.0  # no GPU needed: compile every kernel to PTX

The speed table times value+gradient (``reduction='mean'``, float32) of every
elementwise loss on device arrays of ``--size`` elements, the achieved memory
bandwidth (bytes of the inputs read plus the gradient written, over the median
time), its fraction of a device-to-device copy's bandwidth measured on the same
card, and PyTorch CUDA forward+backward and a CuPy expression of the same loss
where those are installed.

``--ptx`` compiles every kernel of the families' ``cuda.py`` (their
``ptx_signatures()``) for the given compute capability with NVVM, without a GPU:
it needs the ``numba-cuda`` package with its CUDA toolkit wheels
(``pip install "numba-cuda[cu12]"``).  Device functions are normally compiled for
the current GPU; for this offline check the current device is stood in for by one of
the requested compute capability.
"""

import argparse
import importlib
import os
import statistics
import subprocess
import sys
import time

import numpy as np


def run_tests(extra=()):
    """``python -m pytest tests/cuda`` from the source tree; returns the exit code."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    tests = os.path.join(root, "tests", "cuda")
    if not os.path.isdir(tests):
        print(f"no tests/cuda beside the package ({root}); run from a source checkout")
        return 1
    return subprocess.call([sys.executable, "-m", "pytest", "-q", tests, *extra], cwd=root)


def _median_time(func, repeat, sync):
    func()
    sync()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def copy_bandwidth(n, repeat=10):
    """GB/s of a device-to-device copy of ``n`` float32 (read + write)."""
    from numba import cuda

    src = cuda.device_array(n, dtype=np.float32)
    dst = cuda.device_array(n, dtype=np.float32)
    t = _median_time(lambda: dst.copy_to_device(src), repeat, cuda.synchronize)
    return 2 * 4 * n / t / 1e9


def benchmark(n, repeat=10):
    """Print the speed table (see the module docs); returns its rows."""
    from numba import cuda

    from numbaloss.testing.elementwise import CASES, NAMES

    torch = _optional("torch")
    if torch is not None and not torch.cuda.is_available():
        torch = None
    cupy = _optional("cupy")
    peak = copy_bandwidth(n, repeat)
    device_name = cuda.get_current_device().name if hasattr(cuda, "get_current_device") else "?"
    if isinstance(device_name, bytes):
        device_name = device_name.decode()
    print(f"device: {device_name}  n = {n:,} float32")
    print(f"device-to-device copy: {peak:.0f} GB/s")
    header = f"{'loss':34s} {'numbaloss ms':>12s} {'GB/s':>7s} {'of copy':>8s} {'torch ms':>9s} {'cupy ms':>8s}"
    print(header)
    rows = []
    rng = np.random.default_rng(0)
    for name in NAMES:
        case = CASES[name]
        host = case.make(rng, (n,), np.float32)
        device = [cuda.to_device(a) for a in host]
        n_grads = len(case.preds)

        def run_numbaloss(case=case, device=device):
            case.func(*device, **case.options, return_grad=True)

        t = _median_time(run_numbaloss, repeat, cuda.synchronize)
        moved = 4 * n * (len(host) + n_grads)
        t_torch = _torch_time(torch, case, device, repeat) if torch is not None else None
        t_cupy = _cupy_time(cupy, case, device, repeat) if cupy is not None else None
        row = (name, t * 1e3, moved / t / 1e9, moved / t / 1e9 / peak, t_torch, t_cupy)
        rows.append(row)
        print(
            f"{name:34s} {row[1]:12.3f} {row[2]:7.0f} {row[3]:8.0%} "
            f"{_ms(t_torch):>9s} {_ms(t_cupy):>8s}"
        )
        del device
    return rows


def _ms(t):
    return "-" if t is None else f"{t * 1e3:.3f}"


def _optional(name):
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _torch_time(torch, case, device, repeat):
    tensors = [torch.as_tensor(d, device="cuda") for d in device]
    grad_index = [case.arrays.index(p) for p in case.preds]

    def run():
        ts = list(tensors)
        for i in grad_index:
            ts[i] = ts[i].detach().requires_grad_(True)
        case.torch_ref(torch, ts, reduction="mean", **case.options).backward()

    return _median_time(run, repeat, torch.cuda.synchronize)


def _cupy_time(cupy, case, device, repeat):
    arrays = [cupy.asarray(d) for d in device]

    def run():
        loss = case.numpy_ref(*arrays, **case.options).mean()
        grads = case.numpy_grad(*arrays, **case.options)
        return loss, [g / arrays[0].size for g in grads]

    try:
        return _median_time(run, repeat, cupy.cuda.Device().synchronize)
    except Exception:  # a NumPy formula CuPy cannot run
        return None


def ptx_check(cc=(9, 0)):
    """Compile every family's kernels to PTX for ``cc``; returns the number of failures."""
    import types as pytypes

    from numba import cuda

    dispatcher = importlib.import_module("numba.cuda.dispatcher")
    if hasattr(dispatcher, "get_current_device"):
        dispatcher.get_current_device = lambda: pytypes.SimpleNamespace(compute_capability=cc)
    from numbaloss._core import cuda_support, registry

    failures = 0
    count = 0
    modules = [cuda_support] + [
        importlib.import_module(f"numbaloss.{family}.cuda") for family in registry.FAMILIES
    ]
    for module in modules:
        for kernel, signature in module.ptx_signatures():
            name = f"{module.__name__}.{kernel.py_func.__name__}{signature}"
            try:
                cuda.compile_ptx(kernel.py_func, signature, cc=cc)
                count += 1
            except Exception as exc:  # report all, fail at the end
                failures += 1
                print(f"FAIL  {name}: {str(exc).splitlines()[0] if str(exc) else exc!r}")
    print(f"{count} passed, {failures} failed")
    return failures


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Help that keeps the description's line breaks and shows each option's default."""


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m numbaloss.cuda_check",
        description=__doc__,
        # the description's examples are laid out by line; each option shows its default
        formatter_class=_Formatter,
    )
    parser.add_argument("--size", type=int, default=10**8, help="elements per benchmark array")
    parser.add_argument("--repeat", type=int, default=10, help="timed runs per measurement")
    parser.add_argument("--bench-only", action="store_true", help="skip the tests")
    parser.add_argument("--tests-only", action="store_true", help="skip the benchmarks")
    parser.add_argument("--ptx", action="store_true", help="offline PTX compile of all kernels")
    parser.add_argument("--cc", default="9.0", help="compute capability for --ptx, e.g. 8.0")
    opts = parser.parse_args(argv)
    if opts.ptx:
        major, minor = (int(p) for p in opts.cc.split("."))
        return 1 if ptx_check((major, minor)) else 0
    from numba import cuda

    if not cuda.is_available():
        print("no usable CUDA GPU (or numba-cuda is missing): nothing to check")
        return 1
    status = 0 if opts.bench_only else run_tests()
    if not opts.tests_only:
        benchmark(opts.size, opts.repeat)
    return status


if __name__ == "__main__":
    sys.exit(main())
