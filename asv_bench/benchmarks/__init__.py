"""asv benchmarks of numbaloss, one module per loss family, beside PyTorch and NumPy."""
