"""Evolutionary search, as in AIRA-dojo (facebookresearch/aira-dojo, ``src/dojo/solvers/evo/evo.py``
with ``configs/solver/mlebench/evo.yaml``).

A :class:`Population` (AIRA's single island) holds good solutions. Each generation makes
``individuals_per_generation`` offspring :

- generation 0: drafts; every good result (after debugging) seeds the population;
- later: each offspring is a **crossover** of two parents with probability ``crossover_prob``
  once ``crossover_after`` generations have passed (else 0), otherwise a **mutation** (an
  improvement) of one parent; with an empty population it is a draft again.

Parents are drawn by a softmax (temperature ``selection_temperature``) over dev scores normalised
by the global min and max seen (1 best, 0 worst), without replacement. A buggy offspring is
debugged up to ``max_debug_depth`` times; one still buggy is discarded. From generation 1 on an
offspring is admitted only when its dev score is at least the population's average (AIRA's
admission rule); past ``population_size`` the worst member is dropped.

The prompts are AIRA's operator prompts (``policies.aira_prompts``). Drafts (under the ``start``
protocol) and mutations see AIRA's ``simple_memory`` (design, results and dev score of every good
node so far); debugging sees the chain's earlier attempts (``ancestral_memory``); crossovers see
none (as in AIRA). Every run is reviewed by the model (AIRA's analyze operator,
``policies.reflection``; ``reflect``). Sampling: temperature 0.6, top-p 0.95 for drafts, mutations
and debugging; temperature 0.5 for crossovers (AIRA's operator settings).

As in AIRA, offspring are made one at a time, each reviewed and debugged before the next is asked
for (so a later offspring's memory holds the earlier ones); parents are drawn from the population
as of the generation's start. ``batch_generation=True`` (extension, off) asks for the generation's
drafts and mutations in one batched call and its crossovers in another, and debugs them together.
docs/POLICIES.md lists each default against the reference.
"""

from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import dataclass, field

from gome_env.grading.direction import Direction

from policies import aira_prompts
from policies.base import ConfigError, Episode, Policy, PolicyConfig
from policies.edits import EditRequest, request_edits
from policies.mcts import debug_chains
from policies.reflection import ReflectionConfig, Reflector

__all__ = ["EvolutionaryConfig", "EvolutionaryPolicy", "Population", "plan_generation", "softmax"]


@dataclass
class EvolutionaryConfig(PolicyConfig, ReflectionConfig):
    """AIRA-dojo's MLE-bench settings: population (island) of up to 500, 5 offspring per
    generation, crossover probability 0.5 from generation 2, debug depth 10, selection
    temperature 1.0 (``initial_temp = final_temp = 1.0``), operator sampling 0.6 / 0.95 and a
    crossover temperature of 0.5. ``memory=False`` leaves the memory of good nodes out.
    ``batch_generation`` (extension, off): a generation's offspring in batched calls. The
    reflection switches: ``policies.reflection``."""

    population_size: int = 500
    individuals_per_generation: int = 5
    crossover_prob: float = 0.5
    crossover_after: int = 2
    max_debug_depth: int = 10
    selection_temperature: float = 1.0
    crossover_temperature: float = 0.5
    memory: bool = True
    batch_generation: bool = False
    temperature: float = 0.6
    top_p: float = 0.95

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.population_size < 1 or self.individuals_per_generation < 1 or not 0 <= self.crossover_prob <= 1:
            raise ConfigError("need population_size >= 1, individuals_per_generation >= 1 and 0 <= crossover_prob <= 1")
        if self.selection_temperature <= 0 or self.max_debug_depth < 0 or self.crossover_after < 0:
            raise ConfigError("need selection_temperature > 0, max_debug_depth >= 0 and crossover_after >= 0")


def softmax(values: list[float], temperature: float = 1.0) -> list[float]:
    """Probabilities proportional to ``exp(v / temperature)`` (AIRA's ``stable_softmax``)."""
    scaled = [v / temperature for v in values]
    top = max(scaled)
    exps = [math.exp(v - top) for v in scaled]
    total = sum(exps)
    return [e / total for e in exps]


@dataclass
class Population:
    """AIRA's island: member node ids with their dev scores, and the global score range seen."""

    direction: Direction
    max_size: int = 500
    members: dict[int, float] = field(default_factory=dict)
    low: float | None = None
    high: float | None = None

    def __len__(self) -> int:
        return len(self.members)

    def observe(self, score: float | None) -> None:
        """Widen the global min/max with a good result's score (admitted or not)."""
        if score is None or not math.isfinite(score):
            return
        self.low = score if self.low is None else min(self.low, score)
        self.high = score if self.high is None else max(self.high, score)

    def normalised(self, score: float | None) -> float:
        """1 at the best score seen, 0 at the worst (0.5 while they are equal; 0 for None)."""
        if score is None or not math.isfinite(score):
            return 0.0
        if self.low is None or self.high is None or self.high == self.low:
            return 0.5
        d = self.direction
        worst = self.low if d.better(self.high, self.low) else self.high
        x = d.gain(score, worst) / (self.high - self.low)
        return min(1.0, max(0.0, x))

    @property
    def average(self) -> float | None:
        return sum(self.members.values()) / len(self.members) if self.members else None

    def seed(self, node_id: int, score: float) -> None:
        """Generation 0: every good result joins."""
        self.observe(score)
        self.members[node_id] = score
        self._trim()

    def admit(self, node_id: int, score: float | None) -> bool:
        """Generation >= 1: join when the population is empty or the score is at least its
        average (ties count); then drop the worst members beyond ``max_size``."""
        self.observe(score)
        if score is None:
            return False
        ok = not self.members or self.direction.at_least(score, self.average)
        if ok:
            self.members[node_id] = score
            self._trim()
        return ok

    def _trim(self) -> None:
        while len(self.members) > self.max_size:
            worst = min(self.members, key=lambda i: (self.direction.sign * self.members[i], -i))
            del self.members[worst]

    def probabilities(self, temperature: float) -> dict[int, float]:
        """Each member's selection probability: softmax of its normalised score."""
        ids = sorted(self.members)
        return dict(zip(ids, softmax([self.normalised(self.members[i]) for i in ids], temperature)))

    def sample(self, k: int, rng: random.Random, temperature: float) -> list[int]:
        """``k`` distinct members drawn by the softmax probabilities (without replacement)."""
        probs = self.probabilities(temperature)
        chosen: list[int] = []
        for _ in range(min(k, len(probs))):
            pool = [i for i in probs if i not in chosen]
            chosen.append(rng.choices(pool, weights=[probs[i] for i in pool])[0])
        return chosen


def plan_generation(generation: int, pop: Population, cfg: EvolutionaryConfig, rng: random.Random) -> list[tuple[str, list[int]]]:
    """The operators of one generation: ``("draft", [])``, ``("mutate", [p])`` or ``("crossover", [p, q])``.

    The operator is drawn first (crossover with ``crossover_prob`` from generation
    ``crossover_after`` on), then its parents; a crossover with fewer than two members becomes a
    mutation, anything with an empty population a draft."""
    plan: list[tuple[str, list[int]]] = []
    for _ in range(cfg.individuals_per_generation):
        if generation == 0 or not len(pop):
            plan.append(("draft", []))
            continue
        p_cross = cfg.crossover_prob if generation >= cfg.crossover_after else 0.0
        if rng.random() < p_cross and len(pop) >= 2:
            plan.append(("crossover", pop.sample(2, rng, cfg.selection_temperature)))
        else:
            plan.append(("mutate", pop.sample(1, rng, cfg.selection_temperature)))
    return plan


class EvolutionaryPolicy(Policy):
    """AIRA-dojo's evolutionary search: drafts, then mutations and crossovers of softmax-drawn
    parents, reviewed, debugged, admitted when at least as good as the population's average."""

    name = "evolutionary"
    Config = EvolutionaryConfig

    def __init__(self, model=None, **config) -> None:
        super().__init__(model, **config)
        self.population: Population | None = None
        self.plans: dict[int, str] = {}
        self.debug_ids: set[int] = set()
        self.reflector = Reflector(self.config)

    def run(self, episode: Episode) -> None:
        cfg = self.config
        direction = Direction(episode.higher_is_better)
        self.population = pop = Population(direction, cfg.population_size)
        self.reflector = Reflector(cfg)
        root = episode.tree.root
        if getattr(cfg, "start", "baseline") == "baseline" and not root.is_buggy and root.dev_score is not None:
            pop.seed(root.id, root.dev_score)  # the baseline is a member from the start
        generation = 0
        while True:
            plan = plan_generation(generation, pop, cfg, episode.rng)
            if cfg.batch_generation:
                results = self.debug(episode, self.make_offspring(episode, plan, generation), generation)
            else:
                results = []
                for item in plan:  # AIRA: one offspring at a time, reviewed and debugged before the next
                    results += self.debug(episode, self.make_offspring(episode, [item], generation), generation)
            for node_id in results:
                node = episode.tree[node_id]
                if self.reflector.is_buggy(node):
                    continue  # not fixed: discarded
                if generation == 0:
                    pop.seed(node_id, node.dev_score)
                else:
                    pop.admit(node_id, node.dev_score)
            generation += 1

    def memory(self, episode: Episode) -> list[str]:
        """AIRA's ``simple_memory`` entries (none with ``memory=False``)."""
        if not self.config.memory:
            return []
        return aira_prompts.simple_memory(episode.tree, self.plans, self.reflector, self.debug_ids)

    def make_offspring(self, episode: Episode, plan: list[tuple[str, list[int]]], generation: int) -> list[int]:
        """Ask for the offspring of ``plan`` (drafts and mutations in one call, crossovers in another
        at the crossover temperature), run and review each; return the new node ids (an unusable
        answer makes none)."""
        cfg = self.config
        memory = self.memory(episode)
        requests: list[tuple[int, int, EditRequest]] = []  # (plan index, base node, request)
        for i, (op, parents) in enumerate(plan):
            if op == "draft":
                base, request = episode.tree.root.id, aira_prompts.draft_request(episode, cfg, memory)
            elif op == "mutate":
                base, request = parents[0], aira_prompts.improve_request(episode, parents[0], cfg, memory, kind="mutate")
            else:  # AIRA's crossover sees no memory
                base, request = parents[0], aira_prompts.crossover_request(episode, parents[0], parents[1], cfg)
            requests.append((i, base, request))
        crossover_cfg = dataclasses.replace(cfg, temperature=cfg.crossover_temperature, top_p=1.0)
        outcomes: dict[int, object] = {}
        for is_crossover, group_cfg in ((False, cfg), (True, crossover_cfg)):
            batch = [(i, r) for i, _, r in requests if (plan[i][0] == "crossover") == is_crossover]
            if batch:
                outcomes.update(zip([i for i, _ in batch], request_edits(episode, [r for _, r in batch], config=group_cfg)))
        children = []
        for i, base, _ in requests:
            op, parents = plan[i]
            node = episode.apply(outcomes[i], base, kind=op, note={"generation": generation, "parents": parents},
                                 calls=self.reflector.take_calls())
            if node is not None:
                self.plans[node.id] = outcomes[i].edit.plan
                children.append(node.id)
        self.reflector.reflect(episode, children)
        return children

    def debug(self, episode: Episode, children: list[int], generation: int) -> list[int]:
        """Debug the buggy children (batched across them) until fixed or ``max_debug_depth``
        attempts, each prompt with AIRA's debug memory; return the last node of each chain."""
        return debug_chains(episode, children, self.plans, self.config, self.reflector, self.debug_ids,
                            note={"generation": generation})

    def summary(self) -> dict:
        pop = self.population
        out = {"reflections": self.reflector.summary()}
        if pop is not None:
            out |= {"population": sorted(pop.members), "score_range": [pop.low, pop.high]}
        return out
