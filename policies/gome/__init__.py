"""GOME (gradient-based optimisation of ML engineering): gradient = structured diagnosis,
momentum = success memory, distributed optimisation = multi-trace execution."""

from policies.gome.diagnosis import Hypothesis, parse_diagnosis, select_hypothesis
from policies.gome.memory import FailureMemory, SuccessMemory
from policies.gome.policy import GOMEConfig, GOMEPolicy
from policies.gome.traces import Trace, all_reduce, run_round

__all__ = ["GOMEConfig", "GOMEPolicy", "Hypothesis", "parse_diagnosis", "select_hypothesis", "SuccessMemory",
           "FailureMemory", "Trace", "all_reduce", "run_round"]
