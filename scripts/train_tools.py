"""Tool-use warm-up, then GRPO with ``environment_factory`` (a measured worked example).

On a CPU, out of the box (the bundled SmolLM2-135M-Instruct with TRL's tool-capable ChatML template):

    python scripts/train_tools.py                          # -> runs/tools/summary.json

1. **Warm-up data from the environment**: on each training task (``--train-tasks``), a
   ``GomeEnvironment`` plays read_file -> apply_patch -> submit once per edit, with the real tool
   replies: the short edits of node 0's model line (``gome_env.rl.smalledits``: the default
   solution's estimator, a random forest, one hyperparameter; about 500 characters each;
   ``--no-short-edits`` leaves them out) and the diffs to the task's own solution files
   (``default_solution.py``, ``reference_gold.py``), each kept when under ``--max-diff-chars``
   (default 1500: the whole-file diffs, 3-4k characters, taught a diff the model never closed).
2. **Before**: on the held-out tasks (``--heldout-tasks``, never in the warm-up data),
   ``--samples`` first turns per task are sampled (temperature 1) from the prompt GRPO renders;
   a turn counts when every tool call in it parses into a known tool with well-typed arguments.
3. **SFT** (TRL's ``SFTTrainer``, loss on the assistant's turns only) on the warm-up data.
4. **After**: the same count on the held-out tasks.
5. **GRPO** (``GRPOTrainer(environment_factory=...)``) from the warmed-up model on
   ``--grpo-tasks`` (default: the training tasks): ``--steps`` updates of one group of
   ``--num-generations`` rollouts; the share of groups whose rewards differ (GRPO learns only from those).

Prints and writes ``OUT/summary.json`` (figures, times and peak memory of each phase) and
``OUT/warmup.jsonl`` (the warm-up conversations). Test scores are never computed: the environment
grades the dev split only during training.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gome_env.rl.budget import COMPLETION_TOKENS  # noqa: E402

TRAIN_TASKS = "digits,hpc-jobs"
HELDOUT_TASKS = "spam,italy-power"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n", 2)[2])
    p.add_argument("--model", default=None, help="a ChatML transformers model folder (default: the bundled SmolLM2-135M-Instruct)")
    p.add_argument("--train-tasks", default=TRAIN_TASKS, help=f"warm-up tasks (default {TRAIN_TASKS})")
    p.add_argument("--heldout-tasks", default=HELDOUT_TASKS, help=f"tasks the call share is measured on (default {HELDOUT_TASKS})")
    p.add_argument("--grpo-tasks", default=None, help="GRPO tasks (default: the training tasks)")
    p.add_argument("--max-diff-chars", type=int, default=1500,
                   help="longest warm-up diff (default 1500: the short edits; 4000 adds the diffs to the default solutions)")
    p.add_argument("--no-short-edits", action="store_true", help="leave the short edits of node 0 out of the warm-up")
    p.add_argument("--samples", type=int, default=4, help="first turns sampled per held-out task (default 4)")
    p.add_argument("--eval-tokens", type=int, default=64, help="new tokens per sampled first turn (default 64: a read_file call takes 30)")
    p.add_argument("--sft-epochs", type=float, default=4, help="SFT epochs (default 4)")
    p.add_argument("--sft-lr", type=float, default=2e-4, help="SFT learning rate (default 2e-4)")
    p.add_argument("--steps", type=int, default=2, help="GRPO updates (default 2)")
    p.add_argument("--num-generations", type=int, default=4, help="rollouts per group (default 4)")
    p.add_argument("--max-completion-length", type=int, default=COMPLETION_TOKENS,
                   help=f"GRPO completion budget in tokens, tool replies included (default {COMPLETION_TOKENS}: "
                        "gome_env.rl.budget.COMPLETION_TOKENS)")
    p.add_argument("--reply-share", type=float, default=0.3,
                   help="share of the completion budget one tool reply may take (default 0.3: a baseline's whole solution.py, "
                        "room for two replies and a short diff)")
    p.add_argument("--prompt-chars", type=int, default=1500, help="reset prompt budget (default 1500 characters)")
    p.add_argument("--grpo-lr", type=float, default=1e-6, help="GRPO learning rate (default 1e-6)")
    p.add_argument("--step-timeout", type=float, default=None, help="seconds per solution run (default: the task's)")
    p.add_argument("--skip-grpo", action="store_true", help="stop after the warm-up and its measurement")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("runs/tools"), help="output folder (default runs/tools)")
    return p.parse_args(argv)


def _tasks(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def peak_gb() -> float:
    """This process's peak resident memory so far (GB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import datasets
    import torch
    from transformers import AutoModelForCausalLM, TrainerCallback
    from trl import GRPOTrainer, SFTConfig, SFTTrainer

    from gome_env.rl import GomeEnvironment
    from gome_env.rl.chat import template_checks, tool_tokenizer
    from gome_env.rl.toolcalls import tool_row
    from gome_env.rl.trl_utils import cpu_grpo_config
    from gome_env.rl.warmup import group_stats, sft_rows, stop, tool_call_share, warmup_conversations

    train, heldout = _tasks(args.train_tasks), _tasks(args.heldout_tasks)
    if set(train) & set(heldout):
        raise SystemExit(f"held-out tasks also in the warm-up: {sorted(set(train) & set(heldout))}")
    grpo_tasks = _tasks(args.grpo_tasks) if args.grpo_tasks else train
    if args.model:
        folder = Path(args.model)
    else:
        from policies.models.smollm2 import converted_dir

        folder = converted_dir()
    tokenizer = tool_tokenizer(folder)
    env_kwargs = {**GomeEnvironment.env_kwargs, **({"step_timeout_s": args.step_timeout} if args.step_timeout else {})}
    env_cls = GomeEnvironment.for_completion(args.max_completion_length, reply_share=args.reply_share,
                                             prompt_chars=args.prompt_chars, env_kwargs=env_kwargs)
    summary: dict = {"command": " ".join(["python scripts/train_tools.py", *(argv if argv is not None else sys.argv[1:])]),
                     "model": str(folder), "template_checks": template_checks(tokenizer), "train_tasks": train,
                     "heldout_tasks": heldout, "grpo_tasks": grpo_tasks, "times_s": {}, "peak_gb": {}}
    args.out.mkdir(parents=True, exist_ok=True)
    clock = time.monotonic()

    def phase(name: str) -> None:
        nonlocal clock
        now = time.monotonic()
        summary["times_s"][name] = round(now - clock, 1)
        summary["peak_gb"][name] = round(peak_gb(), 2)
        clock = now
        (args.out / "summary.json").write_text(json.dumps(summary, indent=2))  # after each phase: partial results survive
        print(f"[{name}] {summary['times_s'][name]:.0f} s, peak {summary['peak_gb'][name]:.2f} GB", flush=True)

    examples = warmup_conversations(env_cls, train, max_diff_chars=args.max_diff_chars, seed=args.seed,
                                    short=not args.no_short_edits)
    with open(args.out / "warmup.jsonl", "w") as handle:
        for example in examples:
            handle.write(json.dumps(example.to_dict()) + "\n")
    summary["warmup"] = [{"task": e.task, "source": e.source, "replies": [m["content"].split("\n")[0] for m in e.messages
                                                                          if m["role"] == "tool"]} for e in examples]
    phase("warmup_data")
    if not examples:
        raise SystemExit("no warm-up conversation: no solution file with a short enough diff (see --max-diff-chars)")

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    before = tool_call_share(model, tokenizer, env_cls, heldout, args.samples, args.eval_tokens, args.seed)
    summary["before"] = before.to_dict()
    phase("measure_before")

    probe = env_cls()
    rows = sft_rows(examples, tokenizer, probe)
    summary["sft_tokens"] = [len(r["input_ids"]) for r in rows]
    sft_args = SFTConfig(output_dir=str(args.out / "sft"), use_cpu=True, bf16=False, fp16=False, num_train_epochs=args.sft_epochs,
                         per_device_train_batch_size=1, learning_rate=args.sft_lr, lr_scheduler_type="constant",
                         logging_steps=1, save_strategy="no", report_to="none", disable_tqdm=True, max_length=None,
                         seed=args.seed, dataloader_num_workers=0)
    sft = SFTTrainer(model=model, processing_class=tokenizer, args=sft_args, train_dataset=datasets.Dataset.from_list(rows))
    sft.train()
    summary["sft_loss"] = [round(e["loss"], 4) for e in sft.state.log_history if "loss" in e]
    phase("sft")

    model = sft.model
    after = tool_call_share(model, tokenizer, env_cls, heldout, args.samples, args.eval_tokens, args.seed)
    summary["after"] = after.to_dict()
    phase("measure_after")

    if not args.skip_grpo:
        data = datasets.Dataset.from_list([tool_row(grpo_tasks[i % len(grpo_tasks)], args.seed) for i in range(args.steps)])
        config = cpu_grpo_config(args.out / "grpo", num_generations=args.num_generations, per_device_train_batch_size=1,
                                 gradient_accumulation_steps=args.num_generations, max_steps=args.steps,
                                 max_completion_length=args.max_completion_length, learning_rate=args.grpo_lr,
                                 max_tool_calling_iterations=4, seed=args.seed, shuffle_dataset=False)
        made: list = []  # every instance TRL makes (it closes none): stopped at the end

        def factory():
            made.append(env_cls())
            return made[-1]

        trainer = GRPOTrainer(model=model, processing_class=tokenizer, environment_factory=factory, args=config,
                              train_dataset=data)
        started = time.monotonic()

        def grpo_figures() -> dict:
            return {**group_stats(trainer), "elapsed_s": round(time.monotonic() - started, 1), "peak_gb": round(peak_gb(), 2)}

        class SaveEachUpdate(TrainerCallback):
            """Write the GRPO figures after every logged update, so a run stopped early keeps them."""

            def on_log(self, *_args, **_kwargs):
                summary["grpo"] = grpo_figures()
                (args.out / "summary.json").write_text(json.dumps(summary, indent=2))

        trainer.add_callback(SaveEachUpdate())
        try:
            trainer.train()
        finally:
            for env in made:
                stop(env)
        summary["grpo"] = grpo_figures()  # the last update's figures, and the run's peak memory
        phase("grpo")

    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"\nwell-formed tool calls on {', '.join(heldout)} ({before.samples} first turns each time): "
          f"{100 * before.share:.0f}% before the warm-up, {100 * after.share:.0f}% after")
    if "grpo" in summary:
        g = summary["grpo"]
        print(f"GRPO on {', '.join(grpo_tasks)}: {len(g['updates'])} updates, groups with unequal rewards "
              f"{100 * (g['unequal_groups'] or 0):.0f}%; per update: "
              + "; ".join(f"reward {u['reward']:.2f} (std {u['reward_std']:.2f}), {u['tool_calls_per_rollout']} calls/rollout"
                          for u in g["updates"]))
    print("times (s): " + ", ".join(f"{k} {v:.0f}" for k, v in summary["times_s"].items())
          + f"; peak memory {max(summary['peak_gb'].values()):.2f} GB; {args.out / 'summary.json'}")
    return summary


if __name__ == "__main__":
    main()
