"""`stepwise eval-model`: run models over problems with known answers and compare them.

    stepwise eval-model --model A [--model B] [--max-new-tokens N] PROBLEMS.jsonl

PROBLEMS.jsonl holds one JSON object a line with "problem" and "answer". For each model it prints
accuracy (the voted answer checked by sympy through grader.check_answer), mean and p95 latency per
problem, generated tokens per second, peak GPU memory and load time, as a table, and writes the
same numbers (plus every answer) to a JSON file.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="stepwise eval-model", description=__doc__.split("\n\n")[0])
    p.add_argument("problems", type=Path, help="JSONL file: one {\"problem\": ..., \"answer\": ...} per line")
    p.add_argument("--model", action="append", dest="models", help="model id or local folder (repeatable)")
    p.add_argument("--max-new-tokens", type=int, default=None, help="token budget per sample")
    p.add_argument("--samples", type=int, default=None, help="samples per problem (majority vote)")
    p.add_argument("--batch-size", type=int, default=None, help="problems per batched generate call")
    p.add_argument("--device", default=None, help="auto | cpu | cuda | cuda:N")
    p.add_argument("--limit", type=int, default=None, help="only the first N problems")
    p.add_argument("--json-out", type=Path, default=Path("eval-model-report.json"))
    return p


def load_problems(path: Path, limit: int | None = None) -> list[dict[str, str]]:
    problems = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        if "problem" not in row or "answer" not in row:
            raise ValueError(f"{path}:{number}: each line needs \"problem\" and \"answer\"")
        problems.append({"problem": str(row["problem"]), "answer": str(row["answer"])})
    return problems[:limit] if limit else problems


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def _correct(answer: str | None, expected: str) -> bool:
    if answer is None:
        return False
    try:
        from grader import check_answer
    except ImportError:
        from worker.voting import grader_equivalent

        return grader_equivalent(answer, expected)
    return bool(check_answer(answer, expected).correct)


def evaluate_model(model: str, problems: list[dict[str, str]], settings: Any) -> dict[str, Any]:
    """Run one model over every problem; returns its row of the report."""
    from worker.runtime import ModelRunner, ModelUnavailable
    from worker.voting import vote

    settings = replace(settings, model=model)
    runner = ModelRunner(settings)
    row: dict[str, Any] = {"model": model, "problems": len(problems)}
    try:
        runner.load()
        runner.warmup()
    except ModelUnavailable as exc:
        row["error"] = exc.message
        return row
    peak_reset = False
    if runner.device.startswith("cuda"):
        import torch

        torch.cuda.reset_peak_memory_stats(runner.device)
        peak_reset = True
    latencies: list[float] = []
    results: list[dict[str, Any]] = []
    tokens = 0
    generation_time = 0.0
    size = max(1, settings.batch_size)
    for start in range(0, len(problems), size):
        batch = problems[start:start + size]
        began = time.perf_counter()
        outputs = runner.generate([p["problem"] for p in batch])
        elapsed = time.perf_counter() - began
        generation_time += elapsed
        for p, samples in zip(batch, outputs):
            voted = vote([s.answer for s in samples])
            tokens += sum(s.completion_tokens for s in samples)
            latencies.append(elapsed)  # each problem's answer is ready when its batch is
            results.append({
                "problem": p["problem"], "expected": p["answer"], "answer": voted.answer,
                "agreement": voted.agreement, "correct": _correct(voted.answer, p["answer"]),
                "sample_correct": [_correct(s.answer, p["answer"]) for s in samples],
                "completion_tokens": [s.completion_tokens for s in samples],
                "truncated": sum(s.truncated for s in samples), "forced": sum(s.forced for s in samples),
            })
    health = runner.health()
    peak = None
    if peak_reset:
        import torch

        peak = torch.cuda.max_memory_allocated(runner.device)
    runner.shutdown()
    n = len(results)
    per_sample = [c for r in results for c in r["sample_correct"]]
    row.update({
        "device": health["device"], "dtype": health["dtype"],
        "accuracy": sum(r["correct"] for r in results) / n if n else None,
        "sample_accuracy": sum(per_sample) / len(per_sample) if per_sample else None,
        "latency_mean_s": sum(latencies) / n if n else None,
        "latency_p95_s": percentile(latencies, 95),
        "tokens_per_s": tokens / generation_time if generation_time > 0 else None,
        "completion_tokens": tokens,
        "peak_gpu_memory_bytes": peak,
        "load_time_s": health["load_time_s"],
        "settings": {"max_new_tokens": settings.max_new_tokens, "samples": settings.samples,
                     "temperature": settings.temperature, "top_p": settings.top_p,
                     "batch_size": settings.batch_size},
        "results": results,
    })
    return row


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def format_table(rows: list[dict[str, Any]]) -> str:
    header = ("model", "accuracy", "mean s", "p95 s", "tok/s", "peak GPU GiB", "load s")
    lines = []
    for r in rows:
        if "error" in r:
            lines.append((r["model"], "unavailable", "-", "-", "-", "-", "-"))
            continue
        peak = r.get("peak_gpu_memory_bytes")
        lines.append((
            r["model"], _fmt(r["accuracy"], ".1%"), _fmt(r["latency_mean_s"], ".2f"),
            _fmt(r["latency_p95_s"], ".2f"), _fmt(r["tokens_per_s"], ".1f"),
            _fmt(peak / 2**30 if peak is not None else None, ".2f"), _fmt(r["load_time_s"], ".1f"),
        ))
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines)]
    render = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    out = [render(header), render(["-" * w for w in widths])] + [render(line) for line in lines]
    for r in rows:
        if "error" in r:
            out.append(f"{r['model']}: {r['error']}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from store.settings import Settings

    overrides: dict[str, Any] = {}
    if args.max_new_tokens is not None:
        overrides["max_new_tokens"] = args.max_new_tokens
    if args.samples is not None:
        overrides["samples"] = args.samples
    if args.batch_size is not None:
        overrides["batch_size"] = args.batch_size
    if args.device is not None:
        overrides["device"] = args.device
    settings = Settings.from_env(**overrides)
    models = args.models or [settings.model]
    try:
        problems = load_problems(args.problems, args.limit)
    except (OSError, ValueError) as exc:
        print(f"eval-model: {exc}", file=sys.stderr)
        return 2
    if not problems:
        print(f"eval-model: {args.problems} has no problems", file=sys.stderr)
        return 2
    rows = [evaluate_model(model, problems, settings) for model in models]
    print(format_table(rows))
    report = {"problems_file": str(args.problems), "problems": len(problems), "models": rows}
    args.json_out.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    print(f"report written to {args.json_out}")
    return 1 if all("error" in r for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
