#!/usr/bin/env python3
"""Roofline plot of the MoE stage-2 benchmark: time per call against tokens (log-log), one panel per
shape, with the tilejit kernel (moe_stage2.json), the PyTorch bf16 baseline (baseline.json) and the
floors: the MXFP4 weight traffic at the measured copy bandwidth and, when the baseline measured it,
the arithmetic at the dense bf16 matmul rate. Writes roofline.png; without matplotlib it says so and
exits 0.
"""
import argparse
import json
import os
import sys


def load(path):
    """The rows of a benchmark JSON file (a list, or a dict with 'results'), or None when absent."""
    if not path or not os.path.exists(path):
        return None, {}
    with open(path) as f:
        doc = json.load(f)
    if isinstance(doc, list):
        return doc, {}
    return doc.get("results", []), doc


def by_shape(rows):
    """{shape: rows sorted by tokens}."""
    out = {}
    for r in rows or []:
        out.setdefault(r["shape"], []).append(r)
    for v in out.values():
        v.sort(key=lambda r: r["tokens"])
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dir", default=".", help="directory holding the JSON files (and the default output)")
    p.add_argument("--ours", help="moe_stage2.json (default: DIR/moe_stage2.json)")
    p.add_argument("--baseline", help="baseline.json (default: DIR/baseline.json)")
    p.add_argument("--out", help="output PNG (default: DIR/roofline.png)")
    args = p.parse_args()
    ours_path = args.ours or os.path.join(args.dir, "moe_stage2.json")
    base_path = args.baseline or os.path.join(args.dir, "baseline.json")
    out_path = args.out or os.path.join(args.dir, "roofline.png")

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot_roofline: matplotlib is not installed; no plot written")
        return 0

    ours_rows, _ = load(ours_path)
    base_rows, base_doc = load(base_path)
    if ours_rows is None and base_rows is None:
        print("plot_roofline: neither %s nor %s exists" % (ours_path, base_path), file=sys.stderr)
        return 1
    ours, base = by_shape(ours_rows), by_shape(base_rows)
    shapes = list(ours) + [s for s in base if s not in ours]  # in the files' order
    fig, axes = plt.subplots(1, len(shapes), figsize=(6.2 * len(shapes), 4.8), squeeze=False)
    for ax, shape in zip(axes[0], shapes):
        shown = []  # measured times and memory floors: the y range (the compute floor may sit far below)
        ticks = sorted({r["tokens"] for r in ours.get(shape, []) + base.get(shape, [])})
        if shape in ours:
            rows = ours[shape]
            t = [r["tokens"] for r in rows]
            ax.plot(t, [r["time_us"] for r in rows], "o-", color="tab:blue", label="tilejit A16W4 (MXFP4)")
            shown += [r["time_us"] for r in rows] + [r["floor_us"] for r in rows]
            ax.plot(t, [r["floor_us"] for r in rows], "--", color="gray",
                    label="memory floor: MXFP4 weights at %.0f GB/s" % rows[0].get("copy_gbs", 0))
        if shape in base:
            rows = base[shape]
            t = [r["tokens"] for r in rows]
            ax.plot(t, [r["time_us"] for r in rows], "s-", color="tab:orange", label="PyTorch bf16 grouped GEMM")
            shown += [r["time_us"] for r in rows] + [r["floor_us"] for r in rows]
            if shape not in ours:
                ax.plot(t, [r["floor_us"] for r in rows], "--", color="gray",
                        label="memory floor: MXFP4 weights at %.0f GB/s" % base_doc.get("copy_gbs", 0))
            ax.plot(t, [r["bf16_floor_us"] for r in rows], ":", color="tab:orange", alpha=0.7,
                    label="memory floor: bf16 weights")
            if rows and rows[0].get("compute_floor_us") is not None:
                ax.plot(t, [r["compute_floor_us"] for r in rows], "-.", color="black", alpha=0.6,
                        label="compute floor: %.0f TFLOP/s bf16" % base_doc.get("matmul_tflops", 0))
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(ticks)
        ax.set_xticklabels([str(t) for t in ticks], fontsize=8)
        if shown:
            ax.set_ylim(bottom=0.5 * min(shown), top=2.0 * max(shown))
        ax.set_xlabel("tokens")
        ax.set_ylabel("time per call (us)")
        ax.set_title(shape)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    device = base_doc.get("device") or (ours_rows[0].get("device") if ours_rows else "")
    fig.suptitle("MoE stage 2, L2 flushed before every call, median%s" % (" — " + device if device else ""))
    fig.tight_layout()
    fig.savefig(out_path, dpi=120)
    print("wrote %s" % out_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
