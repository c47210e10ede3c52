"""Names shared by the environment, the policies and the scripts: one definition each.

(The task modalities are ``gome_env.tasks.task.MODALITIES``; statuses are ``gome_env.diagnostics.STATUSES``.)
"""

from __future__ import annotations

__all__ = ["SOLUTION", "SUBMIT", "DETAIL_LEVELS"]

SOLUTION = "solution.py"
"""The program every step runs (``python solution.py`` in the workspace)."""

SUBMIT = "submit"
"""The action that ends an episode (``submit`` or ``submit <node_id>``)."""

DETAIL_LEVELS = ("full", "standard", "minimal")
"""How much the feedback shows: everything; no error analysis or warnings; status and scores only."""
