"""Decode throughput of the DeepSeek-R1-Distill-Qwen-1.5B architecture, with random weights.

    python bench/generate.py                 # GPU: the real 1.5B shape, batch 1, 64 and 256
    python bench/generate.py --small         # CPU (automatic without CUDA): a tiny shape, < 1 minute

Nothing is downloaded: the model is built from a Qwen2Config with the checkpoint's dimensions.
Every sequence generates exactly --new-tokens tokens (min_new_tokens = max_new_tokens, so EOS
cannot stop it early). Decode tokens/s excludes the prefill (timed separately). The baseline is
the memory-bound limit of single-stream decoding: every new token reads all weights once, so
tokens/s <= HBM bandwidth / bytes of weights (H200: 4.8 TB/s / 3.55 GB of bf16 weights ≈ 1,350).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

H200_BANDWIDTH = 4.8e12  # bytes/s, NVIDIA H200 HBM3e

R1_DISTILL_QWEN_1_5B = dict(
    vocab_size=151936,
    hidden_size=1536,
    intermediate_size=8960,
    num_hidden_layers=28,
    num_attention_heads=12,
    num_key_value_heads=2,
    max_position_embeddings=131072,
    rope_theta=10000.0,
    tie_word_embeddings=False,
    rms_norm_eps=1e-6,
    bos_token_id=151646,
    eos_token_id=151643,
)
SMALL = dict(R1_DISTILL_QWEN_1_5B, vocab_size=2048, hidden_size=128, intermediate_size=384,
             num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
             max_position_embeddings=4096, bos_token_id=0, eos_token_id=1)


def param_count(c: dict) -> int:
    """Parameters of a Qwen2 causal LM with this config (q/k/v biases, untied head unless tied)."""
    h, i, layers = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"]
    kv = c["num_key_value_heads"] * (h // c["num_attention_heads"])
    attention = (h * h + h) + 2 * (h * kv + kv) + h * h
    mlp = 3 * h * i
    per_layer = attention + mlp + 2 * h  # two RMSNorm weights
    embeddings = c["vocab_size"] * h * (1 if c["tie_word_embeddings"] else 2)
    return layers * per_layer + embeddings + h  # final norm


def named_baseline(bandwidth: float = H200_BANDWIDTH) -> tuple[float, int]:
    """(tokens/s, bf16 weight bytes) of R1-Distill-Qwen-1.5B single-stream decode at `bandwidth`."""
    weight_bytes = 2 * param_count(R1_DISTILL_QWEN_1_5B)
    return bandwidth / weight_bytes, weight_bytes


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--small", action="store_true", help="tiny config on any device (automatic without CUDA)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--batches", default=None, help="comma-separated batch sizes (default 1,64,256; small: 1,8)")
    p.add_argument("--new-tokens", type=int, default=None, help="tokens generated per sequence (default 256; small: 32)")
    p.add_argument("--prompt-tokens", type=int, default=64)
    p.add_argument("--bandwidth", type=float, default=H200_BANDWIDTH, help="memory bandwidth, bytes/s")
    p.add_argument("--json-out", type=Path, default=None)
    return p.parse_args(argv)


def build(config_kwargs: dict, device: str, dtype):
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(**config_kwargs)
    started = time.perf_counter()
    torch.manual_seed(0)
    with torch.device(device):
        model = Qwen2ForCausalLM(config)
    model = model.to(dtype=dtype).eval()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return model, time.perf_counter() - started


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _generate(model, input_ids, new_tokens: int, device: str) -> float:
    import torch
    from transformers import GenerationConfig

    config = GenerationConfig(max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                              pad_token_id=model.config.eos_token_id, eos_token_id=model.config.eos_token_id)
    _sync(device)
    started = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), generation_config=config)
    _sync(device)
    assert out.shape[1] == input_ids.shape[1] + new_tokens, out.shape
    return time.perf_counter() - started


def run(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    import torch

    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    small = args.small or not device.startswith("cuda")
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    batches = [int(b) for b in (args.batches or ("1,8" if small else "1,64,256")).split(",")]
    new_tokens = args.new_tokens or (32 if small else 256)
    shape = SMALL if small else R1_DISTILL_QWEN_1_5B

    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    model, load_s = build(shape, device, dtype)
    params = sum(p.numel() for p in model.parameters())
    weight_bytes = params * 2  # the baseline is stated for bf16 weights
    limit = args.bandwidth / weight_bytes
    name = "R1-Distill-Qwen-1.5B shape" if not small else "small Qwen2 shape (CPU smoke run)"
    print(f"model: {name}, {params / 1e9:.3f} B parameters, {dtype}, device {device}, "
          f"built with random weights in {load_s:.1f} s")
    named, named_bytes = named_baseline(args.bandwidth)
    print(f"named baseline: DeepSeek-R1-Distill-Qwen-1.5B on an H200 = {args.bandwidth / 1e12:.1f} TB/s HBM / "
          f"{named_bytes / 1e9:.3f} GB bf16 weights = {named:,.0f} tokens/s single stream (memory-bound)")
    if small:
        print(f"this config's limit at the same bandwidth: {weight_bytes / 1e9:.4f} GB -> {limit:,.0f} tokens/s "
              "(CPU smoke run: the ratio below is not meaningful)")

    vocab = shape["vocab_size"]
    generator = torch.Generator().manual_seed(1)
    rows = []
    # Warm-up: kernels, allocator, cuBLAS handles.
    warm = torch.randint(2, vocab, (1, args.prompt_tokens), generator=generator).to(device)
    _generate(model, warm, 4, device)
    for batch in batches:
        ids = torch.randint(2, vocab, (batch, args.prompt_tokens), generator=generator).to(device)
        if device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        prefill_s = _generate(model, ids, 1, device)
        total_s = _generate(model, ids, new_tokens, device)
        decode_s = max(total_s - prefill_s, 1e-9)
        decode_tps = batch * (new_tokens - 1) / decode_s
        per_stream = decode_tps / batch
        peak = torch.cuda.max_memory_allocated() if device.startswith("cuda") else None
        rows.append({"batch": batch, "new_tokens": new_tokens, "prefill_s": prefill_s, "total_s": total_s,
                     "decode_tokens_per_s": decode_tps, "per_stream_tokens_per_s": per_stream,
                     "ratio_to_limit": decode_tps / limit, "peak_memory_bytes": peak})

    print(f"{'batch':>6} {'new tok':>8} {'prefill s':>10} {'total s':>9} {'decode tok/s':>13} "
          f"{'per stream':>11} {'x limit':>8} {'peak GiB':>9}")
    for r in rows:
        peak = "-" if r["peak_memory_bytes"] is None else f"{r['peak_memory_bytes'] / 2**30:.2f}"
        print(f"{r['batch']:>6} {r['new_tokens']:>8} {r['prefill_s']:>10.3f} {r['total_s']:>9.2f} "
              f"{r['decode_tokens_per_s']:>13,.1f} {r['per_stream_tokens_per_s']:>11,.1f} "
              f"{r['ratio_to_limit']:>8.3f} {peak:>9}")
    print("x limit = decode tokens/s / memory-bound single-stream limit (batching can exceed 1).")
    report = {"device": device, "small": small, "dtype": str(dtype), "parameters": params,
              "weight_bytes_bf16": weight_bytes, "bandwidth_bytes_per_s": args.bandwidth,
              "memory_bound_tokens_per_s": limit, "named_baseline_tokens_per_s": named, "load_s": load_s, "runs": rows}
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(report, indent=2))
    return report


def main(argv: list[str] | None = None) -> int:
    run(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
