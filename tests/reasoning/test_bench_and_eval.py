"""bench/generate.py in small (CPU) mode and `stepwise eval-model` on the tiny model."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_runs_small_on_cpu(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-W", "error", str(ROOT / "bench" / "generate.py"), "--small", "--device", "cpu",
         "--new-tokens", "8", "--batches", "1,4", "--json-out", str(out)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert "named baseline: DeepSeek-R1-Distill-Qwen-1.5B on an H200" in proc.stdout
    assert "1,351 tokens/s" in proc.stdout  # 4.8 TB/s / 3.554 GB
    report = json.loads(out.read_text())
    assert [r["batch"] for r in report["runs"]] == [1, 4]
    assert all(r["decode_tokens_per_s"] > 0 and r["new_tokens"] == 8 for r in report["runs"])


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


def test_eval_model_report(tiny_model_path, tmp_path, monkeypatch, capsys):
    from worker.evaluate import main, percentile

    monkeypatch.setenv("STEPWISE_INSTANCE_DIR", str(tmp_path))
    monkeypatch.setenv("STEPWISE_MODEL_LOCAL_ONLY", "1")
    monkeypatch.setenv("STEPWISE_SECRET_KEY", "x")
    monkeypatch.setenv("STEPWISE_DATABASE_URL", "sqlite://")
    problems = tmp_path / "problems.jsonl"
    problems.write_text('{"problem": "What is 2+2?", "answer": "4"}\n\n{"problem": "What is 1/2+1/2?", "answer": "1"}\n')
    report = tmp_path / "report.json"
    code = main(["--model", str(tiny_model_path), "--model", str(tmp_path / "absent"), "--max-new-tokens", "8",
                 "--samples", "2", "--device", "cpu", "--json-out", str(report), str(problems)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "accuracy" in printed and "tok/s" in printed and "unavailable" in printed
    data = json.loads(report.read_text())
    tiny, absent = data["models"]
    assert tiny["problems"] == 2 and 0.0 <= tiny["accuracy"] <= 1.0
    assert tiny["latency_mean_s"] > 0 and tiny["latency_p95_s"] >= tiny["latency_mean_s"] * 0.5
    assert tiny["tokens_per_s"] > 0 and tiny["load_time_s"] > 0 and tiny["peak_gpu_memory_bytes"] is None
    assert len(tiny["results"]) == 2 and all(len(r["completion_tokens"]) == 2 for r in tiny["results"])
    assert "huggingface-cli download" in absent["error"]
    assert percentile([1, 2, 3, 4, 100], 95) == 100 and percentile([], 95) is None
