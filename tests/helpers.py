"""Small helpers shared by tests."""

from __future__ import annotations

from gome_env.diffs import make_diff

GOOD_RULE = '''
def predict(row):
    return 1 if float(row["x0"]) + float(row["x1"]) > 0 else 0
'''


def edit(env, transform) -> str:
    """A diff that applies ``transform`` to the current node's solution.py."""
    files = env.unwrapped.files()
    new = dict(files)
    new["solution.py"] = transform(files["solution.py"])
    return make_diff(files, new)


def improve(source: str) -> str:
    """Turn the tiny task's majority-class baseline into a linear rule (a real improvement)."""
    source = source.replace("os.makedirs(", GOOD_RULE + "\n\nos.makedirs(", 1)
    return source.replace("{majority}\\n", "{predict(row)}\\n")


def append(code: str):
    return lambda source: source + "\n" + code + "\n"
