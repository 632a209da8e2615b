# SPDX-License-Identifier: GPL-2.0
"""Turns the benchmark's result lines into a JSON and a Markdown report.

Each `### BENCH <set> <case> <workload> <round> <read IOPS> <write IOPS>`
line gives one run; the report has, per set, case and workload, the median IOPS over
the rounds, the spread ((max - min) / median) and the ratio to the baseline
(dm-linear on the same device; for remap_all_hit, the same I/O on the spare
through dm-linear)."""

import json
import statistics
from pathlib import Path

BASELINE = {"remap_all_hit": "spare_direct"}


def parse(text: str) -> tuple[dict, dict]:
    runs: dict[tuple[str, str, str], list[float]] = {}
    extra: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split()
        if line.startswith("### BENCH ") and len(parts) == 8:
            _, _, dset, case, workload, _round, read_iops, write_iops = parts
            iops = write_iops if "write" in workload else read_iops
            try:
                runs.setdefault((dset, case, workload), []).append(float(iops))
            except ValueError:
                continue
        elif line.startswith("### BENCHKV ") and len(parts) >= 4:
            extra[parts[2]] = parts[3]
    return runs, extra


CLOCKS = {
    "icount": "guest time under QEMU -icount (one instruction = 1 ns, idle skipped): IOPS measure "
              "the CPU path, independent of the host's load",
    "tcg": "wall-clock time under multi-threaded TCG (noisy: the host's load shows)",
    "kvm": "wall-clock time under KVM",
}


def targets(rows: list[dict], extra: dict) -> list[dict]:
    """The issue's targets, each with its measured worst case and verdict."""
    def worst(cases):
        sel = [r for r in rows if r["case"] in cases and r["overhead_pct"] is not None]
        return max(sel, key=lambda r: r["overhead_pct"]) if sel else None
    out = []
    for cases, limit, name in ((("remap_0",), 0.5, "IOPS overhead vs dm-linear, 0 remaps"),
                               (("remap_100k_miss",), 0.5, "IOPS overhead vs dm-linear, 100k remaps not hit"),
                               (("remap_all_hit",), 5.0, "IOPS of hits vs the same I/O on the spare")):
        w = worst(cases)
        if w:
            out.append({"target": name, "limit": f"<= {limit}%", "worst": f"{w['overhead_pct']}% "
                        f"({w['set']} {w['workload']})", "met": w["overhead_pct"] <= limit})
    if "bytes_per_remap" in extra:
        b = float(extra["bytes_per_remap"])
        out.append({"target": "memory per remap entry", "limit": "<= 32 B", "worst": f"{b} B", "met": b <= 32})
    if "commit_p50_us" in extra:
        out.append({"target": "one-remap commit latency", "limit": "reported",
                    "worst": f"p50 {extra['commit_p50_us']} us, p99 {extra.get('commit_p99_us')} us", "met": True})
    return out


def write(results_log: Path, out_dir: Path, clock: str = "tcg") -> Path:
    runs, extra = parse(results_log.read_text(errors="replace"))
    rows = []
    for (dset, case, workload), values in sorted(runs.items()):
        med = statistics.median(values)
        base_case = BASELINE.get(case, "linear")
        base = runs.get((dset, base_case, workload))
        ratio = med / statistics.median(base) if base and statistics.median(base) > 0 else None
        rows.append({
            "set": dset, "case": case, "workload": workload, "rounds": len(values),
            "median_iops": round(med), "spread": round((max(values) - min(values)) / med, 4) if med else None,
            "baseline": base_case, "ratio": round(ratio, 4) if ratio else None,
            "overhead_pct": round((1 - ratio) * 100, 2) if ratio else None,
        })
    report = out_dir / "bench"
    verdicts = targets(rows, extra)
    (report.with_suffix(".json")).write_text(json.dumps(
        {"clock": clock, "runs": rows, "commit_latency_and_memory": extra, "targets": verdicts}, indent=2))
    md = ["# dm-remap benchmark", "", f"Clock: {CLOCKS.get(clock, clock)}.", "",
          "| target | limit | measured (worst) | met |", "| --- | --- | --- | --- |"]
    md += [f"| {t['target']} | {t['limit']} | {t['worst']} | {'yes' if t['met'] else 'no'} |" for t in verdicts]
    md += ["", "| set | case | workload | median IOPS | spread | baseline | ratio | overhead |",
          "| --- | --- | --- | ---: | ---: | --- | ---: | ---: |"]
    for r in rows:
        md.append(f"| {r['set']} | {r['case']} | {r['workload']} | {r['median_iops']} | "
                  f"{r['spread']:.1%} | {r['baseline']} | {r['ratio'] if r['ratio'] is not None else '-'} | "
                  f"{str(r['overhead_pct']) + '%' if r['overhead_pct'] is not None else '-'} |")
    md += ["", "| metric | value |", "| --- | ---: |"] + [f"| {k} | {v} |" for k, v in sorted(extra.items())]
    (report.with_suffix(".md")).write_text("\n".join(md) + "\n")
    return report
