"""Agents (policies) that act in gome-env environments, and the model layer they use."""
