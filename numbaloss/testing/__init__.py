"""Reference implementations shared by the test suite and the benchmarks.

One module per family: plain NumPy references written from the formulas, the
PyTorch calls they must agree with, and the finite differences that check
gradients (the elementwise losses as a table of cases: how to make valid inputs,
the reference and the PyTorch call).  PyTorch is imported only by the functions
that use it, or passed in as an argument (it is a test oracle, never a runtime
dependency).
"""
