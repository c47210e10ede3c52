"""GOME (gradient-based optimisation of ML engineering) on RD-Agent's data-science loop:
gradient = structured diagnosis, momentum = success memory, distributed optimisation =
multi-trace execution; post-experiment feedback decides what replaces each trace's best."""

from policies.gome.diagnosis import Hypothesis, parse_diagnosis, select_hypothesis
from policies.gome.feedback import Feedback, parse_feedback
from policies.gome.history import Experiment
from policies.gome.memory import FailureMemory, SuccessMemory
from policies.gome.policy import GOMEConfig, GOMEPolicy
from policies.gome.traces import Trace, all_reduce, run_round

__all__ = ["GOMEConfig", "GOMEPolicy", "Hypothesis", "parse_diagnosis", "select_hypothesis", "Feedback", "parse_feedback",
           "Experiment", "SuccessMemory", "FailureMemory", "Trace", "all_reduce", "run_round"]
