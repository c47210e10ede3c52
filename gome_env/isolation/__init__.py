"""Running a solution in isolation: the sandboxes (bubblewrap or a portable subprocess), the warm
worker that forks one child per step, per-run cgroups, the private-answers tripwire, and the
workspace a step runs in."""
