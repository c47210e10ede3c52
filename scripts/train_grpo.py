"""Train a language model on the environment with TRL's GRPO (a worked example).

On a CPU, out of the box (the bundled SmolLM2-135M-Instruct, the ``digits`` task, a few updates):

    python scripts/train_grpo.py                           # free-form edits: the model writes solution.py
    python scripts/train_grpo.py --mode options            # multiple choice: lettered options, each a fixed diff

On a GPU, any model folder and task:

    python scripts/train_grpo.py --model /models/qwen2.5-1.5b-instruct --tasks digits,spam --device gpu \\
        --steps 200 --num-generations 8 --max-completion-length 1024 --bf16 --out runs/grpo

Each update samples ``--num-generations`` completions per prompt; ``GomeReward`` parses each into a
diff, runs them in parallel over an ``EnvPool`` from the prompt's node and returns the ladder
reward (dev split only). The script prints the mean reward per update and writes
``OUT/rewards.csv`` and ``OUT/rewards.png`` (with matplotlib). ``--mode options`` asks the model to
pick one of five lettered edits (a patch that does not apply, a syntax error, a real
improvement, a runtime error, no submission: one per rung of the ladder), so even a 135M model
gets a learning signal; it also prints the log-probability of the best option before and after.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CPU_PROMPT = {"max_task_chars": 800, "max_code_chars": 1500, "max_feedback_chars": 400}  # digits: about 750 prompt tokens
IMPROVED = {  # the improvement offered as option C in --mode options, per task (a text replacement)
    "digits": ("Replace Gaussian naive Bayes with an RBF support-vector machine",
               [("from sklearn.naive_bayes import GaussianNB", "from sklearn.svm import SVC"), ("GaussianNB()", "SVC()")]),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n", 2)[2])
    p.add_argument("--model", default=None, help="a transformers model folder (default: the bundled SmolLM2-135M-Instruct)")
    p.add_argument("--tasks", default="digits", help="comma-separated task names or Gymnasium ids (default digits)")
    p.add_argument("--mode", choices=("edits", "options"), default="edits", help="free-form edits or lettered options")
    p.add_argument("--edit-form", default="whole", choices=("whole", "search_replace", "diff"), help="how edits are asked for")
    p.add_argument("--steps", type=int, default=None, help="GRPO updates (default: 4 edits, 6 options)")
    p.add_argument("--num-generations", type=int, default=None, help="completions per prompt (default: 4 edits, 8 options)")
    p.add_argument("--prompts-per-step", type=int, default=1, help="prompts per update (default 1)")
    p.add_argument("--max-completion-length", type=int, default=None, help="new tokens per completion (default: 128 edits, 3 options)")
    p.add_argument("--learning-rate", type=float, default=None, help="default: 1e-6 edits, 1e-5 options")
    p.add_argument("--micro-batch", type=int, default=None,
                   help="completions per forward/backward pass (default: 2 on a CPU, which bounds memory; the whole batch on a GPU)")
    p.add_argument("--pool-size", type=int, default=2, help="environment workers running a group's steps (default 2)")
    p.add_argument("--step-timeout", type=float, default=None, help="seconds per solution run (default: the task's)")
    p.add_argument("--full-prompts", action="store_true",
                   help="the RL prompt budgets of gome_env.rl.dataset.PROMPT_DEFAULTS (default on a CPU: shorter sections, CPU_PROMPT)")
    p.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    p.add_argument("--bf16", action="store_true", help="bfloat16 training (GPU)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("runs/grpo"), help="output folder (default runs/grpo)")
    return p.parse_args(argv)


def options_data(task: str, rows: int, seed: int):
    from gome_env.env import MLEEnv
    from gome_env.pool import resolve_task
    from gome_env.rl.options import ladder_options, make_options_dataset

    spec = resolve_task(task)
    if spec.id not in IMPROVED:
        raise SystemExit(f"--mode options knows an improvement for {', '.join(IMPROVED)} only; use --mode edits for {spec.id}")
    env = MLEEnv(spec, executor="cold")
    try:
        env.reset(seed=seed)
        files = env.files(0)
    finally:
        env.close()
    label, replacements = IMPROVED[spec.id]
    improved = files["solution.py"]
    for old, new in replacements:
        improved = improved.replace(old, new)
    return make_options_dataset(task, ladder_options(files, improved, label), rows=rows, seed=seed)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import datasets
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOTrainer

    from gome_env.rl import GomeReward, make_grpo_dataset
    from gome_env.rl.trl_utils import answer_logprob, cpu_grpo_config, reward_history
    from policies.models import bundled_model_dir

    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    options = args.mode == "options"
    args.steps = args.steps or (6 if options else 4)
    args.num_generations = args.num_generations or (8 if options else 4)
    rows = args.steps * args.prompts_per_step
    if options:
        data = datasets.concatenate_datasets([options_data(t, rows, args.seed) for t in tasks])
    else:
        short = args.device == "cpu" and not args.full_prompts
        data = make_grpo_dataset(tasks, seeds=(args.seed,), repeats=rows, edit_form=args.edit_form, **(CPU_PROMPT if short else {}))
    folder = Path(args.model) if args.model else bundled_model_dir()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    dtype = torch.bfloat16 if args.bf16 else torch.float32
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype)
    env_kwargs = {"step_timeout_s": args.step_timeout} if args.step_timeout else {}
    reward = GomeReward(tasks[0], pool_size=args.pool_size, edit_form=args.edit_form, **env_kwargs)
    batch = args.num_generations * args.prompts_per_step
    micro = args.micro_batch or (2 if args.device == "cpu" else batch)
    if batch % micro:
        raise SystemExit(f"--micro-batch {micro} must divide the batch of {batch} completions")
    config = cpu_grpo_config(
        args.out, use_cpu=args.device == "cpu", bf16=args.bf16, num_generations=args.num_generations,
        per_device_train_batch_size=micro, gradient_accumulation_steps=batch // micro, max_steps=args.steps, seed=args.seed,
        max_completion_length=args.max_completion_length or (3 if options else 128),
        learning_rate=args.learning_rate or (1e-5 if options else 1e-6),
    )
    before = answer_logprob(model, tokenizer, data[0]["prompt"], "C") if options else None
    trainer = GRPOTrainer(model=model, processing_class=tokenizer, reward_funcs=[reward], args=config, train_dataset=data)
    started = time.monotonic()
    try:
        trainer.train()
    finally:
        reward.close()
    history = [e for e in trainer.state.log_history if "reward" in e]
    rewards = reward_history(trainer)
    print(f"\n{'update':>6} {'reward':>8} {'ok %':>6} {'patch_failed %':>15}")
    for i, entry in enumerate(history, 1):
        print(f"{i:>6} {entry['reward']:>8.3f} {100 * entry.get('gome/status_ok', 0):>6.0f} "
              f"{100 * entry.get('gome/status_patch_failed', 0):>15.0f}")
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "rewards.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["update", "reward", "ok", "patch_failed", "dev_score"])
        for i, entry in enumerate(history, 1):
            writer.writerow([i, entry["reward"], entry.get("gome/status_ok"), entry.get("gome/status_patch_failed"),
                             entry.get("gome/dev_score")])
    if options:
        after = answer_logprob(trainer.model, tokenizer, data[0]["prompt"], "C")
        print(f"log p(best option C): {before:.3f} before, {after:.3f} after ({after - before:+.3f})")
    print(f"{len(rewards)} updates in {time.monotonic() - started:.0f} s; {args.out / 'rewards.csv'}")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker

        fig, ax = plt.subplots(figsize=(5, 3))
        ax.plot(range(1, len(rewards) + 1), rewards, marker="o")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.set_xlabel("update")
        ax.set_ylabel("mean ladder reward")
        ax.set_title(f"GRPO on {args.tasks} ({args.mode})")
        fig.tight_layout()
        fig.savefig(args.out / "rewards.png", dpi=120)
        print(f"plot: {args.out / 'rewards.png'}")
    except ImportError:
        print("(matplotlib is not installed: no plot)")


if __name__ == "__main__":
    main()
