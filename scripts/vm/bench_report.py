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


def write(results_log: Path, out_dir: Path) -> Path:
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
    (report.with_suffix(".json")).write_text(json.dumps({"runs": rows, "commit_latency_and_memory": extra}, indent=2))
    md = ["# dm-remap benchmark", "",
          "| set | case | workload | median IOPS | spread | baseline | ratio | overhead |",
          "| --- | --- | --- | ---: | ---: | --- | ---: | ---: |"]
    for r in rows:
        md.append(f"| {r['set']} | {r['case']} | {r['workload']} | {r['median_iops']} | "
                  f"{r['spread']:.1%} | {r['baseline']} | {r['ratio'] if r['ratio'] is not None else '-'} | "
                  f"{str(r['overhead_pct']) + '%' if r['overhead_pct'] is not None else '-'} |")
    md += ["", "| metric | value |", "| --- | ---: |"] + [f"| {k} | {v} |" for k, v in sorted(extra.items())]
    (report.with_suffix(".md")).write_text("\n".join(md) + "\n")
    return report
