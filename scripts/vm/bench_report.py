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


# The design floor of issue 17.1, measured once (Documentation/benchmark.rst,
# "Where the time goes"), not by this run: a target whose map() only
# readdresses the bio and whose end_io returns at once.
FLOOR = "0.43% / 0.42% (null randread4k / randwrite4k; documented in benchmark.rst, not re-measured)"

RANDOM_4K = ("randread4k", "randwrite4k")
RANDOM_4K_QD1 = ("randread4k_qd1", "randwrite4k_qd1")


def targets(rows: list[dict], extra: dict) -> list[dict]:
    """The issue's targets, each with its measured worst case and verdict
    ("met" is None for reference rows, which are not targets)."""
    def worst(dset, cases, workloads=None):
        sel = [r for r in rows if r["set"] == dset and r["case"] in cases and r["overhead_pct"] is not None
               and (workloads is None or r["workload"] in workloads)]
        return max(sel, key=lambda r: r["overhead_pct"]) if sel else None
    out = []
    modelled = extra.get("nvme_device_latency_modelled", "yes") != "no"
    for dset, cases, workloads, limit, name in (
            ("null", ("remap_0",), RANDOM_4K, 1.0, "CPU path (null): overhead vs dm-linear, 0 remaps"),
            ("null", ("remap_1m_miss",), RANDOM_4K, 1.0, "CPU path (null): overhead vs dm-linear, 1M remaps not hit"),
            ("null", ("remap_all_hit",), None, 2.0, "CPU path (null): hits vs the same I/O on the spare")):
        w = worst(dset, cases, workloads)
        if w:
            out.append({"target": name, "limit": f"<= {limit}%", "worst": f"{w['overhead_pct']}% "
                        f"({w['case']} {w['workload']})", "met": w["overhead_pct"] <= limit})
        if cases == ("remap_0",) and w:
            out.append({"target": "reference: design floor (map that only readdresses, end_io returning at once)",
                        "limit": "-", "worst": FLOOR, "met": None})
    typical = "typical device (20 us completion), 0 remaps and 1M misses"
    if modelled:
        for workloads, label in ((RANDOM_4K, "QD32 x 2 jobs"), (RANDOM_4K_QD1, "QD1, beside the target")):
            w = worst("nvme", ("remap_0", "remap_1m_miss"), workloads)
            if w:
                out.append({"target": f"{typical}, {label} (nvme)", "limit": "<= 0.5%",
                            "worst": f"{w['overhead_pct']}% ({w['case']} {w['workload']})",
                            "met": w["overhead_pct"] <= 0.5})
    else:
        # nullb1's latency is not what the guest sees (the clock check): the
        # figures come from the CPU path. At QD32 over 2 jobs the CPU is the
        # bottleneck (64 I/Os in flight, each ~9 us of CPU here, against a
        # 20 us device), so the overhead is the CPU path's; at QD1 each I/O
        # costs its instructions plus the device's 20 us.
        w = worst("null", ("remap_0", "remap_1m_miss"), RANDOM_4K)
        if w:
            out.append({"target": f"{typical}, QD32 x 2 jobs (derived: CPU-bound, so the CPU path's figure)",
                        "limit": "<= 0.5%", "worst": f"{w['overhead_pct']}% ({w['case']} {w['workload']})",
                        "met": w["overhead_pct"] <= 0.5})
        w = worst("nvme-derived", ("remap_0", "remap_1m_miss"), RANDOM_4K_QD1)
        if w:
            out.append({"target": f"{typical}, QD1 (derived: ns per I/O on null at QD1 + 20 us; beside the target)",
                        "limit": "<= 0.5%", "worst": f"{w['overhead_pct']}% ({w['case']} {w['workload']})",
                        "met": w["overhead_pct"] <= 0.5})
    if "icount_check_qd1_iops_nullb0" in extra and "icount_check_qd1_iops_nullb1" in extra:
        try:
            fast = float(extra["icount_check_qd1_iops_nullb0"])
            slow = float(extra["icount_check_qd1_iops_nullb1"])
            nsec = float(extra.get("nvme_completion_nsec", 20000))
            expected = 1e9 / (1e9 / fast + nsec)
            ratio = slow / expected
            out.append({"target": "check: the icount clock accounts the device latency (QD1 on nullb1 vs "
                                  "1e9 / (ns per I/O on nullb0 + completion_nsec))"
                                  + ("" if modelled else "; failed, so nvme figures are derived"),
                        "limit": "within 10%",
                        "worst": f"{slow:.0f} IOPS, expected {expected:.0f} (nullb0 {fast:.0f}): ratio {ratio:.3f}",
                        "met": abs(ratio - 1) <= 0.10})
        except (ValueError, ZeroDivisionError):
            pass
    if "t1m_commit_p99_us" in extra:
        p99 = float(extra["t1m_commit_p99_us"])
        out.append({"target": "one-remap commit at 1M extents (brd spare), p99 of those after a load's first",
                    "limit": "<= 10 ms",
                    "worst": f"p99 {p99:.0f} us (p50 {extra.get('t1m_commit_p50_us')} us, "
                             f"max {extra.get('t1m_commit_max_us')} us, {extra.get('t1m_commits')} commits)",
                    "met": p99 <= 10000})
    if "t1m_first_commit_us" in extra:
        first = float(extra["t1m_first_commit_us"])
        out.append({"target": "first commit after a load at 1M extents (a fold: full copies)", "limit": "reported",
                    "worst": f"{first / 1000:.1f} ms", "met": None})
    if "t1m_load_ms" in extra:
        ms = float(extra["t1m_load_ms"])
        out.append({"target": "load of 1M extents (dmsetup create, brd spare)", "limit": "<= 1 s",
                    "worst": f"{ms / 1000:.2f} s", "met": ms <= 1000})
    if "bytes_per_remap" in extra:
        b = float(extra["bytes_per_remap"])
        out.append({"target": f"memory per remap entry ({extra.get('table_extents')} extents)", "limit": "<= 32 B",
                    "worst": f"{b} B", "met": b <= 32})
    if extra.get("commits", "0") != "0" and "commit_p50_us" in extra:
        out.append({"target": "one-remap commit latency, near-empty table (brd spare)", "limit": "reported",
                    "worst": f"p50 {extra['commit_p50_us']} us, p99 {extra.get('commit_p99_us')} us", "met": None})
    return out


def derived_rows(rows: list[dict], extra: dict) -> list[dict]:
    """When the guest could not model the typical device's latency, its QD1
    rows (set "nvme-derived") from the null set's QD1 rows: each I/O takes
    its instructions (1e9 / IOPS ns) plus the device's completion time."""
    if extra.get("nvme_device_latency_modelled", "yes") != "no":
        return []
    nsec = float(extra.get("nvme_completion_nsec", 20000))
    base = {r["workload"]: r["median_iops"] for r in rows if r["set"] == "null" and r["case"] == "linear"}
    out = []
    for r in rows:
        if r["set"] != "null" or r["workload"] not in RANDOM_4K_QD1 or not r["median_iops"]:
            continue
        lin = base.get(r["workload"])
        model = 1e9 / (1e9 / r["median_iops"] + nsec)
        ratio = (1e9 / lin + nsec) / (1e9 / r["median_iops"] + nsec) if lin else None
        out.append({**r, "set": "nvme-derived", "median_iops": round(model), "spread": None,
                    "ratio": round(ratio, 4) if ratio else None,
                    "overhead_pct": round((1 - ratio) * 100, 2) if ratio else None})
    return out


def met_word(met) -> str:
    return "-" if met is None else "yes" if met else "no"


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
    rows += derived_rows(rows, extra)
    report = out_dir / "bench"
    verdicts = targets(rows, extra)
    (report.with_suffix(".json")).write_text(json.dumps(
        {"clock": clock, "runs": rows, "commit_latency_and_memory": extra, "targets": verdicts}, indent=2))
    md = ["# dm-remap benchmark", "", f"Clock: {CLOCKS.get(clock, clock)}.", "",
          "| target | limit | measured (worst) | met |", "| --- | --- | --- | --- |"]
    md += [f"| {t['target']} | {t['limit']} | {t['worst']} | {met_word(t['met'])} |" for t in verdicts]
    md += ["", "| set | case | workload | median IOPS | spread | baseline | ratio | overhead |",
          "| --- | --- | --- | ---: | ---: | --- | ---: | ---: |"]
    for r in rows:
        md.append(f"| {r['set']} | {r['case']} | {r['workload']} | {r['median_iops']} | "
                  f"{'-' if r['spread'] is None else format(r['spread'], '.1%')} | {r['baseline']} | {r['ratio'] if r['ratio'] is not None else '-'} | "
                  f"{str(r['overhead_pct']) + '%' if r['overhead_pct'] is not None else '-'} |")
    md += ["", "| metric | value |", "| --- | ---: |"] + [f"| {k} | {v} |" for k, v in sorted(extra.items())]
    (report.with_suffix(".md")).write_text("\n".join(md) + "\n")
    return report
