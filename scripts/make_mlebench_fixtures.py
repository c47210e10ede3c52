"""Write tiny synthetic copies of MLE-bench's 22 lite competitions, laid out as its preparers write them.

    .venv/bin/python scripts/make_mlebench_fixtures.py /tmp/mle                      # all 22
    .venv/bin/python scripts/make_mlebench_fixtures.py /tmp/mle --only spooky-author-identification

Writes ``OUT/data/<id>/prepared/{public,private}`` (MLE-bench's data folder) and
``OUT/registry/<id>/{config.yaml,leaderboard.csv}`` (its package's competition folders), then, with
``--check``, runs each through the adapter's preparation and grades the sample submissions. Try one:

    gym.make("gome/mlebench-v0", competition_dir="/tmp/mle/data/<id>", registry="/tmp/mle/registry")

The builders live in ``tests/mlebench_fixtures`` (the test suite uses the same ones).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="an empty (or new) folder")
    parser.add_argument("--only", action="append", metavar="ID", help="a competition id (repeatable); default: all 22")
    parser.add_argument("--check", action="store_true", help="prepare each one and grade its sample submissions")
    args = parser.parse_args(argv)
    if args.out.exists() and any(args.out.iterdir()):
        parser.error(f"{args.out} is not empty")
    sys.path.insert(0, str(ROOT / "tests"))
    import mlebench_fixtures

    unknown = sorted(set(args.only or ()) - set(mlebench_fixtures.BUILDERS))
    if unknown:
        parser.error(f"unknown competitions {unknown}; valid: {', '.join(sorted(mlebench_fixtures.BUILDERS))}")
    data, registry = mlebench_fixtures.build(args.out, ids=set(args.only) if args.only else None)
    print(f"data: {data}\nregistry: {registry}")
    if not args.check:
        return 0
    from gome_env.grading.grader import grade_file
    from gome_env.mlebench import competition_spec
    from gome_env.tasks.task import prepare

    failed = 0
    for folder in sorted(p for p in data.iterdir() if p.is_dir()):
        spec = competition_spec(folder, registry=registry)
        prepared = prepare(spec)
        dev = grade_file(spec, prepared.public / "sample_submission_dev.csv", prepared.answers("dev"))
        test = grade_file(spec, prepared.public / "sample_submission.csv", prepared.answers("test"))
        ok = dev.valid and test.valid
        failed += not ok
        print(f"{folder.name:50s} {spec.metric_name:18s} rows {prepared.sizes()}  sample: dev {dev.score} test {test.score}"
              + ("" if ok else f"  INVALID {dev.problems + test.problems}"))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
