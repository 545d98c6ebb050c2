#!/usr/bin/env python3
"""Baseline for the MoE stage-2 benchmark: weights dequantised once to bf16, then per call a
PyTorch grouped GEMM of the routed rows with a weighted scatter-add into the output.

Same shapes and token counts as bench/moe_stage2.cpp. Measures, in the same run, the device copy
bandwidth and the dense bf16 matmul rate; flushes L2 (writes a 256 MiB buffer) before every timed
call; times with CUDA events (a CUDA graph per point where capture works); reports the median.
Writes baseline.json to --out and prints a table. Needs only torch (numpy is not used).
"""
import argparse
import json
import os
import statistics
import sys

import torch

SHAPES = {
    # name: (N = model dim, K = inter dim, E experts, topk)
    "gpt_oss": (3072, 3072, 128, 4),
    "deepseek_r1": (7168, 1024, 384, 8),
}
TOKENS = [1, 4, 8, 16, 32, 64, 128, 256, 1024, 4096]


def mxfp4_expert_bytes(n, k):
    """Bytes of one expert's MXFP4 weights: 4-bit values plus one E8M0 scale per 32."""
    return n * k / 2 + n * k / 32


def time_events(fn, flush, reps, warmup=3):
    """Median milliseconds of fn() between two CUDA events, L2 flushed before each call."""
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for i in range(warmup + reps):
        flush.fill_(i & 0x7F)
        start.record()
        fn()
        end.record()
        end.synchronize()
        if i >= warmup:
            times.append(start.elapsed_time(end))
    return statistics.median(times)


def copy_bandwidth(device, reps):
    """Device-to-device copy of 1 GiB: bytes read + written per second."""
    n = 1 << 30
    src = torch.empty(n, dtype=torch.uint8, device=device).fill_(1)
    dst = torch.empty_like(src)
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for i in range(reps + 2):
        start.record()
        dst.copy_(src)
        end.record()
        end.synchronize()
        if i >= 2:
            times.append(start.elapsed_time(end))
    del src, dst
    return 2.0 * n / (statistics.median(times) * 1e-3)


def matmul_rate(device, reps, size=8192):
    """Dense bf16 torch.matmul of size^3: FLOP per second."""
    a = torch.randn(size, size, dtype=torch.bfloat16, device=device)
    b = torch.randn(size, size, dtype=torch.bfloat16, device=device)
    c = torch.empty(size, size, dtype=torch.bfloat16, device=device)
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for i in range(reps + 3):
        start.record()
        torch.matmul(a, b, out=c)
        end.record()
        end.synchronize()
        if i >= 3:
            times.append(start.elapsed_time(end))
    del a, b, c
    return 2.0 * size ** 3 / (statistics.median(times) * 1e-3)


def random_routing(gen, tokens, topk, experts, device):
    """Distinct experts per token (top-k of random scores) with softmax weights over the chosen."""
    scores = torch.randn(tokens, experts, generator=gen, device="cpu")
    vals, ids = torch.topk(scores, topk, dim=1)
    weights = torch.softmax(vals, dim=1)
    return ids.to(device=device, dtype=torch.int64), weights.to(device=device, dtype=torch.float32)


class Problem:
    """One (shape, tokens) point: routed rows sorted by expert, ready for a grouped GEMM.

    a[t * topk + j] is the activation row for token t's j-th expert (the stage-1 output), as in
    the tilejit kernel; out[t] = sum_j weight[t, j] * (a[t * topk + j] @ W[ids[t, j]].T).
    """

    def __init__(self, w, a, ids, weights):
        tokens, topk = ids.shape
        experts = w.shape[0]
        self.w, self.a, self.tokens, self.topk = w, a, tokens, topk
        flat = ids.reshape(-1)
        order = torch.sort(flat, stable=True)[1]
        self.rows = order  # rows of a in expert order
        self.token_of_row = (order // topk).contiguous()
        self.weight_of_row = weights.reshape(-1)[order].to(torch.bfloat16).unsqueeze(1).contiguous()
        counts = torch.bincount(flat, minlength=experts)
        self.offs = torch.cumsum(counts, 0).to(torch.int32)
        counts_host = counts.cpu().tolist()
        self.groups = []  # (expert, begin, end) of the active experts
        begin = 0
        for e, c in enumerate(counts_host):
            if c:
                self.groups.append((e, begin, begin + c))
            begin += c
        self.experts_touched = len(self.groups)
        self.out = torch.empty(tokens, w.shape[1], dtype=torch.bfloat16, device=w.device)

    def run_loop(self):
        """Gather the rows, one torch.matmul per active expert, weighted scatter-add."""
        a_sorted = self.a.index_select(0, self.rows)
        y = torch.empty(a_sorted.shape[0], self.w.shape[1], dtype=torch.bfloat16, device=self.a.device)
        for e, b, end in self.groups:
            torch.matmul(a_sorted[b:end], self.w[e].t(), out=y[b:end])
        y.mul_(self.weight_of_row)
        self.out.zero_()
        self.out.index_add_(0, self.token_of_row, y)
        return self.out

    def run_grouped(self):
        """Gather the rows, one torch._grouped_mm over all experts, weighted scatter-add."""
        a_sorted = self.a.index_select(0, self.rows)
        y = torch._grouped_mm(a_sorted, self.w.transpose(-2, -1), offs=self.offs, out_dtype=torch.bfloat16)
        y.mul_(self.weight_of_row)
        self.out.zero_()
        self.out.index_add_(0, self.token_of_row, y)
        return self.out

    def reference(self, ids, weights):
        """The same sum in float32, one (token, expert) pair at a time (for small checks)."""
        ref = torch.zeros(self.tokens, self.w.shape[1], dtype=torch.float32, device=self.a.device)
        for t in range(self.tokens):
            for j in range(self.topk):
                e = int(ids[t, j])
                row = self.a[t * self.topk + j].float()
                ref[t] += float(weights[t, j]) * (self.w[e].float() @ row)
        return ref


def check(problem, fn, ids, weights, what):
    """Raises when fn's output is not the routed weighted sum (bf16 tolerance)."""
    problem.out.fill_(float("nan"))
    got = fn().float()
    ref = problem.reference(ids, weights)
    err = (got - ref).abs().max().item()
    scale = ref.abs().max().item()
    if not (err <= 5e-2 * scale + 1e-3):
        raise RuntimeError("%s: max error %.4g against a reference of magnitude %.4g" % (what, err, scale))


def time_point(fn, flush, reps, use_graphs):
    """(median ms, 'graph' | 'events'): a CUDA graph of fn replayed when capture works."""
    if use_graphs:
        try:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(3):
                    fn()
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                fn()
            ms = time_events(graph.replay, flush, reps)
            del graph
            return ms, "graph"
        except Exception as exc:  # capture is not supported for this op mix: time eagerly
            print("  (CUDA graph capture failed: %s; timing eagerly)" % str(exc).splitlines()[0], file=sys.stderr)
            torch.cuda.synchronize()
    return time_events(fn, flush, reps), "events"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=".", help="directory for baseline.json")
    p.add_argument("--tokens", type=int, nargs="+", default=TOKENS)
    p.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    p.add_argument("--reps", type=int, default=30, help="timed calls per point (median)")
    p.add_argument("--no-graphs", action="store_true", help="time eager calls, no CUDA graphs")
    p.add_argument("--seed", type=int, default=12345)
    args = p.parse_args()

    if not torch.cuda.is_available():
        print("moe_stage2_baseline: no CUDA device visible to PyTorch", file=sys.stderr)
        return 1
    device = torch.device("cuda")
    name = torch.cuda.get_device_name(device)
    has_grouped = hasattr(torch, "_grouped_mm")
    print("device: %s, torch %s, torch._grouped_mm: %s" % (name, torch.__version__, "yes" if has_grouped else "no"))

    bw = copy_bandwidth(device, 10)
    flops = matmul_rate(device, 10)
    print("copy bandwidth: %.0f GB/s (read + write); bf16 matmul 8192^3: %.1f TFLOP/s" % (bw / 1e9, flops / 1e12))
    flush = torch.empty(256 << 20, dtype=torch.uint8, device=device)  # larger than L2

    gen = torch.Generator(device="cpu")
    gen.manual_seed(args.seed)
    results = []
    for shape in args.shapes:
        n, k, experts, topk = SHAPES[shape]
        # The weights dequantised once to bf16 (random values: the timing does not depend on them).
        w = torch.randn(experts, n, k, dtype=torch.bfloat16, device=device).mul_(0.05)
        free, _ = torch.cuda.mem_get_info()
        print("\n%s: bf16 weights %.2f GB (%.1f GB free)" % (shape, w.numel() * 2 / 1e9, free / 1e9))
        print("%-12s %6s %8s %10s %11s %9s %9s %8s %7s  %s" % (shape, "tokens", "experts", "loop_us", "grouped_us",
                                                               "best_us", "floor_us", "of_floor", "TFLOPS", "timing"))
        for tokens in args.tokens:
            ids, weights = random_routing(gen, tokens, topk, experts, device)
            a = torch.randn(tokens * topk, k, dtype=torch.bfloat16, device=device)
            prob = Problem(w, a, ids, weights)
            small = tokens <= 16
            methods = {"loop": prob.run_loop}
            if has_grouped:
                try:
                    prob.run_grouped()
                    methods["grouped_mm"] = prob.run_grouped
                except Exception as exc:
                    print("  (torch._grouped_mm unusable here: %s)" % str(exc).splitlines()[0], file=sys.stderr)
            timing = {}
            how = {}
            for mname, fn in methods.items():
                if small:  # the baseline must compute the right thing
                    check(prob, fn, ids, weights, "%s %s tokens=%d" % (shape, mname, tokens))
                ms, kind = time_point(fn, flush, args.reps, not args.no_graphs)
                timing[mname] = ms * 1e3
                how[mname] = kind
            best = min(timing, key=timing.get)
            t = timing[best]
            touched = prob.experts_touched
            floor_us = touched * mxfp4_expert_bytes(n, k) / bw * 1e6
            bf16_floor_us = touched * n * k * 2 / bw * 1e6
            fl = 2.0 * tokens * topk * n * k
            compute_floor_us = fl / flops * 1e6
            print("%-12s %6d %8d %10.1f %11s %9.1f %9.1f %8.2f %7.2f  %s" % (
                "", tokens, touched, timing["loop"],
                "%.1f" % timing["grouped_mm"] if "grouped_mm" in timing else "-",
                t, floor_us, floor_us / t, fl / (t * 1e-6) / 1e12, how[best]))
            results.append({
                "shape": shape, "tokens": tokens, "experts_touched": touched,
                "time_us": t, "method": best, "timing": how[best],
                "loop_us": timing["loop"], "grouped_mm_us": timing.get("grouped_mm"),
                "floor_us": floor_us, "fraction_of_floor": floor_us / t,
                "bf16_floor_us": bf16_floor_us, "compute_floor_us": compute_floor_us,
                "tflops": fl / (t * 1e-6) / 1e12,
                "weight_gbs": touched * n * k * 2 / (t * 1e-6) / 1e9,
            })
            del prob, a
        del w
        torch.cuda.empty_cache()

    doc = {
        "device": name, "torch_version": torch.__version__, "copy_gbs": bw / 1e9, "matmul_tflops": flops / 1e12,
        "flush_bytes": flush.numel(), "reps": args.reps, "grouped_mm_available": has_grouped,
        "note": "weights dequantised once to bf16; per call: gather, grouped GEMM, weighted scatter-add "
                "(output zeroing included); floor_us is the MXFP4 weight traffic of the touched experts at the "
                "copy bandwidth, as in moe_stage2.json",
        "results": results,
    }
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "baseline.json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=2)
    print("wrote %s" % path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
