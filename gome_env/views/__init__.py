"""Text views of the environment's public state, shared by the policies' prompts and the RL tools:

- ``gome_env.views.brief``: the task brief (task text, data preview, limits, packages);
- ``gome_env.views.feedback``: a node's feedback (diagnostics rendered and clipped, run output);
- ``gome_env.views.text``: clipping at line boundaries, files as code blocks, a score line and the
  system message.

Everything here reads what an agent may see (never the private answers). The observation dict
itself is rendered by ``gome_env.observation``.
"""

from __future__ import annotations

from gome_env.views.brief import data_preview, public_data_dir, task_brief
from gome_env.views.feedback import execution_output, feedback, node_feedback
from gome_env.views.text import SYSTEM, clip, code_block, score_line

__all__ = ["task_brief", "data_preview", "public_data_dir", "feedback", "node_feedback", "execution_output", "clip", "code_block",
           "score_line", "SYSTEM"]
