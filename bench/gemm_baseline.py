"""Baselines for bench/gemm.cpp on the GPU machine: torch.matmul (cuBLAS) bf16 at 4096^3 and 8192^3,
and dequantised-bf16 weights x activations for M in {1, 16, 128, 4096}, N = K = 4096 (the weights
are already bf16: dequantisation happens once, outside the timed call). Events, median of 30."""
import argparse
import json
import torch


def median_us(fn, reps=30, flush=None):
    times = []
    for i in range(reps + 3):
        if flush is not None:
            flush.fill_(i)
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        if i >= 3:
            times.append(a.elapsed_time(b) * 1e3)
    times.sort()
    return times[len(times) // 2]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", default=".")
    args = p.parse_args()
    results = []
    for n in (4096, 8192):
        a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
        b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
        t = median_us(lambda: a @ b.t())
        results.append({"kernel": "torch_bf16_matmul", "M": n, "time_us": t, "tflops": 2 * n**3 / (t * 1e-6) / 1e12})
        print(f"torch bf16 matmul {n}^3: {t:.1f} us, {results[-1]['tflops']:.1f} TFLOP/s")
    flush = torch.empty(256 << 20, dtype=torch.uint8, device="cuda")
    w = torch.randn(4096, 4096, device="cuda", dtype=torch.bfloat16)
    for m in (1, 16, 128, 4096):
        x = torch.randn(m, 4096, device="cuda", dtype=torch.bfloat16)
        t = median_us(lambda: x @ w.t(), flush=flush)
        results.append({"kernel": "torch_dequantised_bf16", "M": m, "time_us": t})
        print(f"torch dequantised bf16 M={m} N=K=4096: {t:.1f} us")
    with open(f"{args.out}/gemm_baseline.json", "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
