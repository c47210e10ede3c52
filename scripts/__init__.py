"""Command-line tools: the benchmark (``gome-benchmark``), the model-scaling study and the report.

The scripts are thin: the run store, the executors, the aggregation and the plots live in the
``scripts._*`` helper modules, importable as ``scripts._runs`` etc.

Every command here runs offline: importing the package forbids model-hub look-ups and
downloads (``HF_HUB_OFFLINE=1``, ``TRANSFORMERS_OFFLINE=1``) before any script imports
transformers or vLLM, so ``gome-benchmark`` and ``python -m scripts.X`` need nothing exported.
A value the user set already is kept (``setdefault``).
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
