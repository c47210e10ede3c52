"""Small helpers for training with TRL on a CPU: a GRPO configuration that runs there and the
teacher-forced log-probability of an answer (to measure learning). The bundled model's folder is
``policies.models.bundled_model_dir`` (the environment knows nothing of policies)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gome_env.rl.budget import COMPLETION_TOKENS

__all__ = ["cpu_grpo_config", "answer_logprob", "reward_history"]


def cpu_grpo_config(output_dir: str | Path, **overrides: Any):
    """A ``trl.GRPOConfig`` that trains on the CPU: ``use_cpu``, no bf16, no gradient
    checkpointing, no KL term (``beta=0``), no reports or checkpoints, a log line per update,
    ``max_completion_length`` ``gome_env.rl.budget.COMPLETION_TOKENS`` (a ``GomeEnvironment``
    sizes its tool replies for it; ``GomeEnvironment.for_completion(n)`` for another budget);
    ``overrides`` replace any field (``num_generations``, ``max_completion_length``, ...)."""
    from trl import GRPOConfig

    settings = dict(output_dir=str(output_dir), use_cpu=True, bf16=False, fp16=False, gradient_checkpointing=False, beta=0.0,
                    num_generations=4, per_device_train_batch_size=4, max_completion_length=COMPLETION_TOKENS, max_steps=4,
                    learning_rate=1e-6, logging_steps=1, save_strategy="no", report_to="none", disable_tqdm=True,
                    dataloader_num_workers=0, seed=0)
    settings.update(overrides)
    return GRPOConfig(**settings)


def answer_logprob(model: Any, tokenizer: Any, messages: list[dict], answer: str) -> float:
    """log p(``answer`` | the chat prompt ``messages``), teacher-forced (the sum over its tokens)."""
    import torch

    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    prompt_ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt").input_ids
    answer_ids = tokenizer(answer, add_special_tokens=False, return_tensors="pt").input_ids
    ids = torch.cat([prompt_ids, answer_ids], dim=1).to(model.device)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        logits = model(ids).logits[0, prompt_ids.shape[1] - 1 : -1].float()
    model.train(was_training)
    logprobs = torch.log_softmax(logits, dim=-1).gather(1, answer_ids[0].to(model.device).unsqueeze(1))
    return float(logprobs.sum())


def reward_history(trainer: Any) -> list[float]:
    """The mean reward of each logged update (``logging_steps=1``: one per update)."""
    return [entry["reward"] for entry in trainer.state.log_history if "reward" in entry]
