"""The benchmark's parts; ``benchmarks/run.py`` is the driver that uses them."""
