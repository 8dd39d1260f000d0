"""bench/generate.py in small (CPU) mode and `stepwise eval-model` on the tiny model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_bench_cpu_mode_compares_static_and_continuous_in_one_run(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-W",
            "error",
            str(ROOT / "bench" / "generate.py"),
            "--mode",
            "cpu",
            "--problems",
            "2",
            "--samples",
            "3",
            "--cap",
            "24",
            "--max-batch",
            "4",
            "--rounds",
            "1",
            "--json-out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "continuous / static throughput ratio" in proc.stdout
    assert "1,351 tokens/s at batch 1" in proc.stdout  # 4.8 TB/s / 3.554 GB
    report = json.loads(out.read_text())
    assert report["sequences"] == 6 and report["static_s"] > 0 and report["continuous_s"] > 0
    assert report["ratio"] == report["static_s"] / report["continuous_s"]
    assert 0 < report["static_slot_use"] <= 1


def test_bench_gpu_mode_code_path_runs_dry_on_the_cpu(tmp_path):
    """The GPU mode's transformers path, on the CPU with the tiny shape (the real run needs a GPU host)."""
    out = tmp_path / "gpu.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-W",
            "error",
            str(ROOT / "bench" / "generate.py"),
            "--mode",
            "gpu",
            "--device",
            "cpu",
            "--engine",
            "transformers",
            "--batches",
            "1,3",
            "--new-tokens",
            "6",
            "--prompt-tokens",
            "8",
            "--json-out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "% of limit" in proc.stdout
    runs = json.loads(out.read_text())["runs"]
    assert [r["batch"] for r in runs] == [1, 3] and all(r["tokens_per_s"] > 0 for r in runs)
    assert all(r["percent_of_limit"] == 100 * r["tokens_per_s"] / r["limit_tokens_per_s"] for r in runs)


def test_bench_parameter_count_matches_the_real_architecture():
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import generate
    finally:
        sys.path.remove(str(ROOT / "bench"))
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    with torch.device("meta"):
        model = Qwen2ForCausalLM(Qwen2Config(**generate.R1_DISTILL_QWEN_1_5B))
    assert sum(p.numel() for p in model.parameters()) == generate.param_count(generate.R1_DISTILL_QWEN_1_5B)
    assert round(generate.named_baseline()[0]) == 1351
    assert generate.kv_bytes_per_token(generate.R1_DISTILL_QWEN_1_5B) == generate.KV_BYTES_PER_TOKEN == 28_672
    weights = generate.named_baseline()[1]
    # B * BW / (W + B * L * 28,672): batching raises the limit, live context lowers it.
    one = generate.limit_tokens_per_s(1, 2150, weight_bytes=weights)
    batched = generate.limit_tokens_per_s(256, 2150, weight_bytes=weights)
    assert 1300 < one < 1351 and 60_000 < batched < 70_000
    assert batched < 256 * generate.limit_tokens_per_s(1, 0, weight_bytes=weights)
    lengths = [n for _p, n in generate.workload(50, 5, 8192)]
    assert 3500 < sum(lengths) / len(lengths) < 4500 and max(lengths) == 8192  # R1-like: mean near 4,000


def test_eval_model_report(tiny_model_path, tmp_path, monkeypatch, capsys):
    from worker.evaluate import main

    monkeypatch.setenv("STEPWISE_INSTANCE_DIR", str(tmp_path))
    monkeypatch.setenv("STEPWISE_MODEL_LOCAL_ONLY", "1")
    monkeypatch.setenv("STEPWISE_SECRET_KEY", "x")
    monkeypatch.setenv("STEPWISE_DATABASE_URL", "sqlite://")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    problems = tmp_path / "problems.jsonl"
    problems.write_text(
        '{"problem": "What is 2+2?", "answer": "4"}\n\n{"problem": "What is 1/2+1/2?", "answer": "1"}\n'
    )
    report, page = tmp_path / "report.json", tmp_path / "report.html"
    code = main(
        [
            "--model",
            str(tiny_model_path),
            "--model",
            str(tmp_path / "absent"),
            "--dataset",
            str(problems),
            "--max-new-tokens",
            "8",
            "--samples",
            "2",
            "--batch-size",
            "1",
            "--device",
            "cpu",
            "--json-out",
            str(report),
            "--report",
            str(page),
        ]
    )
    assert code == 0
    captured = capsys.readouterr()
    assert "| model | prompt | pass@1 | maj@2 | p50 s | p95 s | tokens/problem | truncated |" in captured.out
    assert captured.out.count("huggingface-cli download") == 1 and "huggingface-cli" not in captured.err  # once
    data = json.loads(report.read_text())
    tiny, absent = data["models"]
    assert tiny["problems"] == 2 and tiny["reasoning_prompt"] is True  # R1 template: prompted into <think>
    assert 0.0 <= tiny["pass_at_1"] <= 1.0 and 0.0 <= tiny["majority_at_k"] <= 1.0
    # per-problem latency: each problem of its own batch, so p50 is not the whole run's wall time
    latencies = [r["latency_s"] for r in tiny["results"]]
    assert all(x > 0 for x in latencies) and tiny["latency_p95_s"] == max(latencies)
    assert tiny["tokens_per_problem"] == sum(sum(r["completion_tokens"]) for r in tiny["results"]) / 2
    assert "huggingface-cli download" in absent["error"]
    assert "<svg" in page.read_text() and "pass@1" in page.read_text()


def test_eval_metrics_and_problem_sets(tmp_path):
    from worker.evaluate import gsm8k_answer, load_problems, percentile, score_problem, summarise
    from worker.generation import Sample

    assert percentile([1, 2, 3, 4, 100], 95) == 100 and percentile([1, 2, 3, 4, 100], 50) == 3
    assert percentile([], 95) is None
    assert gsm8k_answer("She pays 3 * 2 = <<3*2=6>>6.\n#### 1,260") == "1260"
    listed = tmp_path / "p.json"
    listed.write_text(json.dumps([{"problem": "1+1", "answer": "2"}]))
    assert load_problems(listed) == [{"problem": "1+1", "answer": "2"}]
    samples = [
        Sample(text="", answer=a, completion_tokens=10, truncated=False, forced=False, latency_s=t)
        for a, t in (("1/2", 1.0), ("0.5", 2.0), ("3", 1.5))
    ]
    row = score_problem({"problem": "x", "answer": "\\frac{1}{2}"}, samples)
    assert row["majority_correct"] and row["sample_correct"] == [True, True, False] and row["latency_s"] == 2.0
    summary = summarise([row])
    assert summary["pass_at_1"] == pytest.approx(2 / 3) and summary["majority_at_k"] == 1.0
    assert summary["tokens_per_problem"] == 30


PLAIN_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def test_plain_models_are_prompted_without_think(tiny_runner):
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    from worker.generation import is_reasoning_model, render_prompt

    assert is_reasoning_model(tiny_runner.tokenizer) and tiny_runner.thinking
    assert tiny_runner.prompt("What is 2+2?").endswith("<think>\n")
    plain = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]")))
    plain.chat_template = PLAIN_TEMPLATE  # a Qwen2.5-style template: no <think> anywhere
    assert not is_reasoning_model(plain)
    prompt = render_prompt(plain, "What is 2+2?", thinking=False)
    assert prompt.endswith("<|im_start|>assistant\n") and "<think>" not in prompt
    assert "Please reason step by step" in prompt
    plain.chat_template = None  # a base model: the message as plain text
    assert render_prompt(plain, "What is 2+2?", thinking=False).startswith("What is 2+2?\nPlease reason")


def test_offline_dataset_fails_at_once(monkeypatch, capsys, tmp_path):
    from worker.evaluate import main

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("STEPWISE_INSTANCE_DIR", str(tmp_path))
    monkeypatch.setenv("STEPWISE_SECRET_KEY", "x")
    monkeypatch.setenv("STEPWISE_DATABASE_URL", "sqlite://")
    assert main(["--dataset", "math500", "--model", "m"]) == 2
    err = capsys.readouterr().err
    assert "local JSONL file" in err and err.count("eval-model:") == 1
