"""`stepwise eval-model`: run models over problems with known answers and compare them.

    stepwise eval-model --model deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B --model Qwen/Qwen2.5-1.5B-Instruct \\
        --dataset math500 --limit 100 --samples 4

--dataset is `math500` (HuggingFaceH4/MATH-500) or `gsm8k` (openai/gsm8k, main), loaded with the
`datasets` library into the Hugging Face cache when online (and from that cache offline), or a
local JSONL/JSON file of {"problem": ..., "answer": ...}. For each model it reports per-problem
latency p50/p95 (from the batch's start to the problem's last sample: what a teacher waits),
generated tokens per problem, pass@1 (mean share of correct samples) and majority@k (the voted
answer, as reference solutions are voted), checked by the grader; as a Markdown table on stdout
and an HTML report with a chart. Reasoning models are prompted into <think>, plain models are not.
Offline, a model or dataset that is not cached fails at once with one message (no Hub retries).
"""

from __future__ import annotations

import argparse
import html
import json
import logging
import math
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

DATASETS: dict[str, dict[str, Any]] = {
    "math500": {
        "path": "HuggingFaceH4/MATH-500",
        "name": None,
        "split": "test",
        "problem": "problem",
        "answer": "answer",
    },
    "gsm8k": {"path": "openai/gsm8k", "name": "main", "split": "test", "problem": "question", "answer": "answer"},
}


class DatasetError(Exception):
    """The problem set cannot be loaded; the message says what to do."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="stepwise eval-model", description=__doc__.split("\n\n")[0])
    p.add_argument("problems", nargs="?", type=Path, help="(old form) a JSONL file; same as --dataset FILE")
    p.add_argument("--model", action="append", dest="models", help="model id or local folder (repeatable)")
    p.add_argument("--dataset", default=None, help="math500 | gsm8k | FILE (.jsonl or .json)")
    p.add_argument("--limit", type=int, default=None, help="only the first N problems")
    p.add_argument("--samples", type=int, default=None, help="samples per problem (k of majority@k)")
    p.add_argument("--max-new-tokens", type=int, default=None, help="token budget per sample")
    p.add_argument("--batch-size", type=int, default=None, help="problems per batch (as a reasoning worker takes)")
    p.add_argument("--device", default=None, help="auto | cpu | cuda | cuda:N")
    p.add_argument("--engine", default=None, help="auto | transformers | static | vllm | openai")
    p.add_argument("--json-out", type=Path, default=Path("eval-model-report.json"))
    p.add_argument("--report", type=Path, default=Path("eval-model-report.html"), help="HTML report with a chart")
    return p


# -- problems ---------------------------------------------------------------------------------------
def load_problems(path: Path, limit: int | None = None) -> list[dict[str, str]]:
    """A local JSONL (one object a line) or JSON list of {"problem", "answer"}."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        rows = json.loads(text)
        numbered = list(enumerate(rows if isinstance(rows, list) else [], start=1))
    else:
        numbered = [(n, json.loads(line)) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    problems = []
    for number, row in numbered:
        if not isinstance(row, dict) or "problem" not in row or "answer" not in row:
            raise ValueError(f'{path}:{number}: each problem needs "problem" and "answer"')
        problems.append({"problem": str(row["problem"]), "answer": str(row["answer"])})
    return problems[:limit] if limit else problems


def gsm8k_answer(solution: str) -> str:
    """GSM8K's answer is the number after '####' at the end of its worked solution."""
    return solution.rsplit("####", 1)[-1].strip().replace(",", "")


def load_dataset_problems(name: str, limit: int | None = None) -> list[dict[str, str]]:
    spec = DATASETS[name]
    try:
        import datasets
    except ImportError as exc:
        raise DatasetError(
            f"--dataset {name} needs the `datasets` library (`pip install -e '.[eval]'`), "
            'or pass a local JSONL file of {"problem", "answer"}'
        ) from exc
    try:
        data = datasets.load_dataset(spec["path"], spec["name"], split=spec["split"])
    except (OSError, ValueError, ConnectionError) as exc:
        raise DatasetError(
            f"{spec['path']} is not in the Hugging Face cache and the Hub cannot be reached "
            f"({type(exc).__name__}); run once online, or pass a local JSONL file"
        ) from exc
    rows = []
    for row in data:
        answer = str(row[spec["answer"]])
        expected = gsm8k_answer(answer) if name == "gsm8k" else answer
        rows.append({"problem": str(row[spec["problem"]]), "answer": expected})
        if limit and len(rows) >= limit:
            break
    return rows


def hub_offline(timeout: float = 3.0) -> bool:
    """True when HF_HUB_OFFLINE is set or the Hub does not answer quickly (then nothing retries it)."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}:
        return True
    try:
        import requests
        from huggingface_hub.constants import ENDPOINT
    except ImportError:
        return True
    try:
        requests.head(ENDPOINT, timeout=timeout)
    except requests.RequestException:
        return True
    return False


# -- metrics ------------------------------------------------------------------------------------------
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
    from grader import check_answer

    return bool(check_answer(answer, expected).correct)


def score_problem(problem: dict[str, str], samples: list) -> dict[str, Any]:
    """One problem's row: the vote, per-sample correctness, its latency and tokens."""
    from worker.voting import vote

    voted = vote([s.answer for s in samples])
    sample_correct = [_correct(s.answer, problem["answer"]) for s in samples]
    return {
        "problem": problem["problem"],
        "expected": problem["answer"],
        "answer": voted.answer,
        "agreement": voted.agreement,
        "majority_correct": _correct(voted.answer, problem["answer"]),
        "sample_answers": [s.answer for s in samples],
        "sample_correct": sample_correct,
        "completion_tokens": [s.completion_tokens for s in samples],
        "latency_s": max((s.latency_s for s in samples), default=0.0),
        "truncated": sum(s.truncated for s in samples),
        "forced": sum(s.forced for s in samples),
    }


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(results)
    latencies = [r["latency_s"] for r in results]
    tokens = [sum(r["completion_tokens"]) for r in results]
    return {
        "pass_at_1": sum(sum(r["sample_correct"]) / len(r["sample_correct"]) for r in results) / n if n else None,
        "majority_at_k": sum(r["majority_correct"] for r in results) / n if n else None,
        "latency_p50_s": percentile(latencies, 50),
        "latency_p95_s": percentile(latencies, 95),
        "tokens_per_problem": sum(tokens) / n if n else None,
        "truncated_share": (
            sum(r["truncated"] for r in results) / sum(len(r["sample_correct"]) for r in results) if n else None
        ),
    }


def evaluate_model(model: str, problems: list[dict[str, str]], settings: Any) -> dict[str, Any]:
    """Run one model over every problem, `batch_size` problems at a time; returns its row of the report."""
    from worker.runtime import ModelRunner, ModelUnavailable, model_available

    local_only = bool(settings.model_local_only) or model_available(replace(settings, model=model))[0] or hub_offline()
    settings = replace(settings, model=model, model_local_only=local_only)
    runner = ModelRunner(settings)
    row: dict[str, Any] = {"model": model, "problems": len(problems), "samples": settings.samples}
    try:
        runner.load()
        runner.warmup()
    except ModelUnavailable as exc:
        row["error"] = exc.message
        return row
    results: list[dict[str, Any]] = []
    size = max(1, int(settings.batch_size))
    try:
        for start in range(0, len(problems), size):
            batch = problems[start : start + size]
            for problem, samples in zip(batch, runner.generate([p["problem"] for p in batch])):
                results.append(score_problem(problem, samples))
        health = runner.health()
    finally:
        runner.shutdown()
    row.update(summarise(results))
    row.update(
        {
            "reasoning_prompt": runner.thinking,
            "device": health["device"],
            "dtype": health["dtype"],
            "engine": health["engine"].get("engine"),
            "load_time_s": health["load_time_s"],
            "peak_gpu_memory_bytes": (health.get("gpu") or {}).get("max_memory_allocated"),
            "settings": {
                "max_new_tokens": settings.max_new_tokens,
                "samples": settings.samples,
                "temperature": settings.temperature,
                "top_p": settings.top_p,
                "batch_size": settings.batch_size,
            },
            "results": results,
        }
    )
    return row


# -- reports ------------------------------------------------------------------------------------------
def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def format_table(rows: list[dict[str, Any]]) -> str:
    """The comparison as a Markdown table (unavailable models listed with their message below)."""
    k = max((r.get("samples", 1) for r in rows), default=1)
    header = ["model", "prompt", "pass@1", f"maj@{k}", "p50 s", "p95 s", "tokens/problem", "truncated"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for r in rows:
        if "error" in r:
            cells = [r["model"], "unavailable"] + ["-"] * (len(header) - 2)
        else:
            cells = [
                r["model"],
                "<think>" if r["reasoning_prompt"] else "plain",
                _fmt(r["pass_at_1"], ".1%"),
                _fmt(r["majority_at_k"], ".1%"),
                _fmt(r["latency_p50_s"], ".2f"),
                _fmt(r["latency_p95_s"], ".2f"),
                _fmt(r["tokens_per_problem"], ",.0f"),
                _fmt(r["truncated_share"], ".0%"),
            ]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    for r in rows:
        if "error" in r:
            lines.append(f"\n{r['model']}: {r['error']}")
    return "\n".join(lines)


def _bars(rows: list[dict[str, Any]], metrics: list[tuple[str, str, float]], title: str) -> str:
    """A grouped bar chart as inline SVG: one group per model, one bar per metric (scaled to its max)."""
    ok = [r for r in rows if "error" not in r]
    width, height, left, bar = 640, 40 + 36 * max(1, len(ok)) * len(metrics), 230, 22
    colours = ["#2b6cb0", "#dd6b20", "#38a169"]
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
            f'aria-label="{html.escape(title)}"><text x="4" y="18" font-weight="bold">{html.escape(title)}</text>'
        )
    ]
    y = 34
    for r in ok:
        parts.append(f'<text x="4" y="{y + 15}">{html.escape(r["model"][-32:])}</text>')
        for n, (key, label, top) in enumerate(metrics):
            value = r.get(key) or 0.0
            length = 0 if not top else (width - left - 120) * value / top
            parts.append(
                f'<rect x="{left}" y="{y}" width="{length:.1f}" height="{bar - 4}" fill="{colours[n % 3]}"/>'
                f'<text x="{left + length + 6:.1f}" y="{y + 13}">{html.escape(label)} '
                f"{value:.3g}</text>"
            )
            y += bar
        y += 14
    parts.append("</svg>")
    return "".join(parts)


def html_report(rows: list[dict[str, Any]], source: str) -> str:
    ok = [r for r in rows if "error" not in r]
    latency_top = max((r["latency_p95_s"] or 0 for r in ok), default=0) or 1
    k = max((r.get("samples", 1) for r in rows), default=1)
    accuracy = _bars(rows, [("pass_at_1", "pass@1", 1.0), ("majority_at_k", f"maj@{k}", 1.0)], "Accuracy")
    latency = _bars(
        rows,
        [("latency_p50_s", "p50 s", latency_top), ("latency_p95_s", "p95 s", latency_top)],
        "Latency per problem (seconds)",
    )
    table = html.escape(format_table(rows))
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>eval-model: {html.escape(source)}</title>"
        "<style>body{font-family:sans-serif;max-width:60rem;margin:2rem auto}pre{background:#f5f5f5;"
        f"padding:1rem;overflow:auto}}</style></head><body><h1>eval-model: {html.escape(source)}</h1>"
        f"<pre>{table}</pre>{accuracy}<br>{latency}</body></html>"
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # The runner logs a missing model once; the table says it too. Without a handler Python's
    # last-resort handler would print it a second time.
    logging.getLogger("stepwise.reasoning").addHandler(logging.NullHandler())
    from store.settings import Settings

    overrides = {
        name: value
        for name, value in (
            ("max_new_tokens", args.max_new_tokens),
            ("samples", args.samples),
            ("batch_size", args.batch_size),
            ("device", args.device),
            ("engine", args.engine),
        )
        if value is not None
    }
    settings = Settings.from_env(**overrides)
    source = args.dataset or (str(args.problems) if args.problems else None)
    if source is None:
        print("eval-model: pass --dataset math500|gsm8k|FILE", file=sys.stderr)
        return 2
    try:
        if source in DATASETS:
            if hub_offline():
                os.environ["HF_HUB_OFFLINE"] = "1"  # cache only: no Hub retries
            problems = load_dataset_problems(source, args.limit)
        else:
            problems = load_problems(Path(source), args.limit)
    except (OSError, ValueError, DatasetError) as exc:
        print(f"eval-model: {exc}", file=sys.stderr)
        return 2
    if not problems:
        print(f"eval-model: {source} has no problems", file=sys.stderr)
        return 2
    rows = [evaluate_model(model, problems, settings) for model in (args.models or [settings.model])]
    print(format_table(rows))
    report = {"dataset": source, "problems": len(problems), "models": rows}
    args.json_out.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    args.report.write_text(html_report(rows, source), encoding="utf-8")
    print(f"report written to {args.report} (data: {args.json_out})")
    return 1 if all("error" in r for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
