"""The task brief every policy's prompts start from: now ``gome_env.views.brief`` (the RL tools
use it too, and the environment imports nothing from ``policies``). Re-exported here so that
``from policies.taskinfo import task_brief`` keeps working."""

from __future__ import annotations

from gome_env.views.brief import (
    MAX_LINE, PACKAGES, data_preview, installed_packages, limits_section, packages_section, public_data_dir, task_brief,
)

__all__ = ["task_brief", "data_preview", "limits_section", "packages_section", "installed_packages", "public_data_dir", "PACKAGES",
           "MAX_LINE"]
