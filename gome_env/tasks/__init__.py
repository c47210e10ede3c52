"""Tasks: the spec in ``envs/<id>/task.toml``, its deterministic cached preparation with pinned
data, and the ``gome-tasks`` command."""
