"""Benchmarks (`make bench`, `python -m bench.run`): each figure of the product measured against the
best the same machine does, side by side in one run. See bench/README.md."""
