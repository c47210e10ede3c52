"""Diffs: reading a model's unified diff, applying it tolerantly and all-or-nothing, and turning
model text (fenced code, search/replace edits) into the diff the environment takes."""
