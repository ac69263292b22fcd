"""Reference implementations shared by the test suite and the benchmarks.

Each family has a table of cases: how to make valid inputs, a plain NumPy reference
written from the formula, and the PyTorch call it must agree with.  PyTorch is
imported only by the functions that use it (it is a test oracle, never a runtime
dependency).
"""
