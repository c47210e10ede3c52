"""Command-line tools: the benchmark (``gome-benchmark``), the model-scaling study and the report.

The scripts are thin: the run store, the executors, the aggregation and the plots live in the
``scripts._*`` helper modules, importable as ``scripts._runs`` etc.
"""
