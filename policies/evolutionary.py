"""Evolutionary search, as in AIRA-dojo.

The population is the best ``population_size`` good nodes (the baseline included). Each
generation makes ``individuals_per_generation`` offspring, asked for in one batched model call:

- generation 0: drafts (new whole solutions from the task text);
- later: each offspring is a **crossover** of two parents with probability ``crossover_prob``
  once ``crossover_after`` generations have passed (and two parents exist), else a
  **mutation** (an improvement) of one parent.

Parents are drawn by fitness-proportional sampling over normalised dev scores (a floor keeps the
worst member drawable). Buggy offspring get up to ``max_debug_depth`` debug attempts (batched).
AIRA-dojo's population (500), generation size (5) and crossover probability (0.5 after 2
generations) are the defaults; the parent-selection rule and the debug depth are this project's.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from policies import prompts
from policies.base import ConfigError, Episode, Policy, PolicyConfig
from policies.edits import EditRequest, request_edits

__all__ = ["EvolutionaryConfig", "EvolutionaryPolicy", "plan_generation", "population", "pick_parents"]


@dataclass
class EvolutionaryConfig(PolicyConfig):
    population_size: int = 500
    individuals_per_generation: int = 5
    crossover_prob: float = 0.5
    crossover_after: int = 2
    max_debug_depth: int = 1
    selection_floor: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.population_size < 1 or self.individuals_per_generation < 1 or not 0 <= self.crossover_prob <= 1:
            raise ConfigError("need population_size >= 1, individuals_per_generation >= 1 and 0 <= crossover_prob <= 1")


def population(tree, size: int) -> list:
    """The best ``size`` good nodes with a dev score, best first."""
    sign = 1 if tree.higher_is_better else -1
    scored = [n for n in tree.good_nodes if n.dev_score is not None]
    return sorted(scored, key=lambda n: (-sign * n.dev_score, n.id))[:size]


def pick_parents(members: list, k: int, rng: random.Random, higher_is_better: bool, floor: float = 0.1) -> list:
    """``k`` distinct parents drawn in proportion to normalised fitness (+ ``floor``)."""
    scores = [m.dev_score for m in members]
    low, high = min(scores), max(scores)
    fitness = [((s - low) / (high - low) if high > low else 1.0) for s in scores]
    if not higher_is_better:
        fitness = [1.0 - f if high > low else f for f in fitness]
    weights = [f + floor for f in fitness]
    chosen, pool = [], list(range(len(members)))
    for _ in range(min(k, len(members))):
        i = rng.choices(pool, weights=[weights[j] for j in pool])[0]
        chosen.append(members[i])
        pool.remove(i)
    return chosen


def plan_generation(generation: int, members: list, cfg: EvolutionaryConfig, rng: random.Random, higher_is_better: bool) -> list[tuple[str, list]]:
    """The operators of one generation: ``("draft", [])``, ``("mutate", [p])`` or ``("crossover", [p, q])``."""
    if generation == 0 or not members:
        return [("draft", []) for _ in range(cfg.individuals_per_generation)]
    plan = []
    for _ in range(cfg.individuals_per_generation):
        if generation >= cfg.crossover_after and len(members) >= 2 and rng.random() < cfg.crossover_prob:
            plan.append(("crossover", pick_parents(members, 2, rng, higher_is_better, cfg.selection_floor)))
        else:
            plan.append(("mutate", pick_parents(members, 1, rng, higher_is_better, cfg.selection_floor)))
    return plan


class EvolutionaryPolicy(Policy):
    """AIRA-dojo's evolutionary search: drafts, then mutations and crossovers of fit parents."""

    name = "evolutionary"
    Config = EvolutionaryConfig

    def run(self, episode: Episode) -> None:
        cfg = self.config
        generation = 0
        while True:
            members = population(episode.tree, cfg.population_size)
            plan = plan_generation(generation, members, cfg, episode.rng, episode.higher_is_better)
            requests, parents = [], []
            for op, ps in plan:
                if op == "draft":
                    base = episode.tree.root.id
                    messages, form = prompts.draft_prompt(episode.task_text, "", cfg), "whole"
                elif op == "mutate":
                    base = ps[0].id
                    score = f"{episode.metric_name} {ps[0].dev_score}"
                    messages, form = prompts.improve_prompt(episode.task_text, episode.files(base), "", cfg, score), cfg.edit_form
                else:
                    a, b = ps
                    base = a.id
                    scores = (f"({episode.metric_name} {a.dev_score})", f"({episode.metric_name} {b.dev_score})")
                    messages, form = prompts.crossover_prompt(episode.task_text, episode.files(a.id), episode.files(b.id), cfg, scores), "whole"
                requests.append(EditRequest(messages, episode.files(base), form, op))
                parents.append((base, [p.id for p in ps]))
            children = []
            for (op, _), (base, ids), outcome in zip(plan, parents, request_edits(episode, requests, config=cfg)):
                node = episode.step(outcome.diff, base, kind=op, calls=outcome.calls, parse_ok=outcome.ok, note={"generation": generation, "parents": ids})
                children.append(node.id)
            self.debug(episode, children, generation)
            generation += 1

    def debug(self, episode: Episode, children: list[int], generation: int) -> None:
        cfg = self.config
        for _ in range(cfg.max_debug_depth):
            buggy = [c for c in children if episode.tree[c].is_buggy]
            if not buggy:
                return
            requests = [prompts.debug_request(episode, c, cfg) for c in buggy]
            for c, outcome in zip(buggy, request_edits(episode, requests, config=cfg)):
                fixed = episode.step(outcome.diff, c, kind="debug", calls=outcome.calls, parse_ok=outcome.ok, note={"generation": generation})
                children[children.index(c)] = fixed.id
