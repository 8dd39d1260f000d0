"""Command line: ``stepwise check STUDENT REFERENCE [--policy JSON]`` / ``python -m grader``."""

from __future__ import annotations

import argparse
import json
import sys

from .core import check_answer
from .model import Policy

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="stepwise check",
        description="Grade a student's answer against a reference answer and print the result as JSON.",
    )
    p.add_argument("student", help="the student's answer (plain text or LaTeX)")
    p.add_argument("reference", help="the reference answer")
    p.add_argument("--policy", default=None, help='grading policy as JSON, e.g. \'{"require": ["simplified"]}\'')
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        policy = Policy.coerce(json.loads(args.policy)) if args.policy else None
    except (ValueError, TypeError) as e:
        print(json.dumps({"error": "bad policy: %s" % e}), file=sys.stderr)
        return 2
    result = check_answer(args.student, args.reference, policy)
    print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
