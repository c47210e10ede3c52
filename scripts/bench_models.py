"""Tokens per second of each available model backend on the same prompts, batch sizes 1 and 8.

    python -m scripts.bench_models                      # smollm2, vllm:smollm2, llamacpp:smollm2,
                                                        # and openai: against a vLLM server it starts
    python -m scripts.bench_models --models smollm2 openai:http://127.0.0.1:8000/v1#my-model

Each (backend, batch size) is timed `--repeats` times after one warm-up call; the table gives
medians of completion tokens per second of wall time. A backend that cannot load (not installed,
server down) is listed with the reason instead. `openai:vllm-server` starts vLLM's
OpenAI-compatible server on the converted default model for the duration of its benchmark.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import time
from contextlib import ExitStack

from policies.models import ModelError, load_model

PROMPTS = [
    "Explain in two sentences why a validation set is needed.",
    "Write a Python function that standardises the columns of a numpy array.",
    "What is the difference between bagging and boosting?",
    "Suggest three features for predicting house prices.",
    "Write a scikit-learn pipeline with a scaler and a logistic regression.",
    "Why can a high learning rate make training diverge?",
    "Describe k-fold cross-validation to a beginner.",
    "Write a Python function that computes the F1 score from two lists.",
]
DEFAULT_MODELS = ["smollm2", "vllm:smollm2", "openai:vllm-server", "llamacpp:smollm2"]


def bench(spec: str, batch_sizes: list[int], max_tokens: int, repeats: int) -> list[dict]:
    """Rows of medians for one backend; raises ModelError/ImportError when it cannot load."""
    with ExitStack() as stack:
        if spec == "openai:vllm-server":
            from policies.models.smollm2 import converted_dir
            from policies.models.vllm_server import VLLMServer

            start = time.perf_counter()
            server = stack.enter_context(VLLMServer(converted_dir(), name="smollm2"))
            print(f"  vLLM server healthy after {time.perf_counter() - start:.0f} s", flush=True)
            model = load_model(server.spec, concurrency=max(batch_sizes))
        else:
            start = time.perf_counter()
            model = load_model(spec)
            print(f"  loaded in {time.perf_counter() - start:.1f} s", flush=True)
        stack.callback(model.close)
        conversations = [[{"role": "user", "content": p}] for p in PROMPTS]
        model.chat(conversations[:1], max_tokens=8)  # warm-up
        rows = []
        for size in batch_sizes:
            batch = [conversations[i % len(conversations)] for i in range(size)]
            rates, seconds, tokens = [], [], []
            for seed in range(repeats):
                before = model.usage.snapshot()
                model.chat(batch, temperature=0.7, max_tokens=max_tokens, seed=seed)
                spent = model.usage - before
                rates.append(spent.tokens_per_s)
                seconds.append(spent.seconds)
                tokens.append(spent.completion_tokens)
            row = {
                "backend": model.spec if spec != "openai:vllm-server" else "openai: (vLLM server)",
                "batch": size,
                "tok_s": statistics.median(rates),
                "s_per_call": statistics.median(seconds),
                "tokens_per_call": statistics.median(tokens),
            }
            print(f"  batch {size}: {row['tok_s']:.1f} tok/s", flush=True)
            rows.append(row)
        return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=DEFAULT_MODELS, help="model specs to compare")
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    command = shlex.join([sys.executable, "-m", "scripts.bench_models", *(sys.argv[1:] if argv is None else argv)])
    print(f"$ {command}", flush=True)
    rows, skipped = [], []
    for spec in args.models:
        print(f"{spec}:", flush=True)
        try:
            rows += bench(spec, args.batch_sizes, args.max_tokens, args.repeats)
        except (ModelError, ImportError) as exc:
            print(f"  unavailable: {exc}", flush=True)
            skipped.append((spec, str(exc).splitlines()[0]))
    print(f"\nMedians of {args.repeats} calls, up to {args.max_tokens} new tokens per prompt. Command:\n    {command}\n")
    print("| backend | batch | tokens/s | s per call | completion tokens per call |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['backend']} | {r['batch']} | {r['tok_s']:.1f} | {r['s_per_call']:.2f} | {r['tokens_per_call']:.0f} |")
    for spec, reason in skipped:
        print(f"| {spec} | - | unavailable: {reason[:120]} | | |")


if __name__ == "__main__":
    main()
