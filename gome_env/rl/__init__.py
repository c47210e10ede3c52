"""RL training on the environment with Hugging Face TRL (the optional ``[rl]`` extra: ``trl``,
``datasets``).

- ``GomeReward(task, **env_kwargs)``: a reward function for ``GRPOTrainer(reward_funcs=...)``;
  parses each completion with the edit parser (``gome_env.patching.edits``) and steps the batch through an ``EnvPool``
  branching from the row's ``node_id`` (reward ``"ladder"`` by default: dev split only).
- ``make_grpo_dataset(tasks, seeds=(0,), repeats=1, edit_form="whole")``: a ``datasets.Dataset``
  of improve prompts (built from ``gome_env.views``, as the policies' are) with ``prompt``,
  ``task``, ``seed``, ``node_id`` columns.
- ``GomeEnvironment``: a class for ``GRPOTrainer(environment_factory=GomeEnvironment)``: tools
  ``apply_patch``, ``read_file``, ``checkout``, ``submit``; ``get_reward``.
- ``gome_env.rl.options``: multiple-choice prompts whose lettered options are fixed diffs.
- ``gome_env.rl.chat``: a tool-capable ChatML template for ChatML models (SmolLM2) and the system
  message; ``gome_env.rl.budget``: the completion budget and a tool reply's share of it;
  ``gome_env.rl.toolcalls``: tool-call dataset rows, played and recorded conversations;
  ``gome_env.rl.warmup``: the tool-use warm-up's data and its well-formed-call count;
  ``gome_env.rl.smalledits``: the warm-up's short edits of node 0's model line;
  ``gome_env.rl.trees``: rows that carry their tree (restore a recorded tree, check the rows).

Nothing here imports ``trl`` or ``policies``; ``datasets`` is imported only by the dataset
builders. The bundled model's folder for training is ``policies.models.bundled_model_dir``.
"""

from __future__ import annotations

from gome_env.rl.dataset import improve_messages, make_grpo_dataset
from gome_env.rl.environment import GomeEnvironment
from gome_env.rl.options import make_options_dataset, pick_option
from gome_env.rl.reward import GomeReward, completion_text

__all__ = ["GomeReward", "GomeEnvironment", "make_grpo_dataset", "improve_messages", "make_options_dataset", "pick_option",
           "completion_text"]
