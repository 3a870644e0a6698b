"""Benchmark summaries: pass@1 with bootstrap intervals, label precision, cost; table and plots."""

from __future__ import annotations

import json
import random
import statistics
from pathlib import Path
from typing import Any

from verifix.bench.records import read_records


def bootstrap_ci(values: list[bool], n: int = 2000, seed: int = 0) -> tuple[float, float]:
    if not values:
        return (0.0, 0.0)
    rng = random.Random(seed)
    k = len(values)
    means = sorted(sum(rng.choices(values, k=k)) / k for _ in range(n))
    return means[int(0.025 * n)], means[int(0.975 * n) - 1]


def _share(records: list[dict[str, Any]], status: str) -> tuple[int, int]:
    labelled = [r for r in records if r["status"] == status]
    return sum(1 for r in labelled if r["passed"]), len(labelled)


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(records)
    passed = [bool(r["passed"]) for r in records]
    tokens = [r["prompt_tokens"] + r["completion_tokens"] for r in records]
    completion = [r["completion_tokens"] for r in records]
    seconds = [r["seconds"] for r in records]
    # Records written before first answers were timed: the final answer was the first.
    first = [r.get("first_answer_seconds") or r["seconds"] for r in records]
    first_ok = [bool(r["passed"] if r.get("first_answer_passed") is None
                     else r["first_answer_passed"]) for r in records]
    v_ok, v_n = _share(records, "verified")
    p_ok, p_n = _share(records, "plausible")
    ceiling = [r["ceiling"] for r in records if r.get("ceiling") is not None]
    lo, hi = bootstrap_ci(passed)
    return {
        "tasks": n,
        "passed": sum(passed),
        "pass_at_1": sum(passed) / n if n else 0.0,
        "ci95": [lo, hi],
        "verified": v_n,
        "verified_precision": v_ok / v_n if v_n else None,
        "plausible": p_n,
        "plausible_precision": p_ok / p_n if p_n else None,
        "coverage_verified": v_n / n if n else 0.0,
        "tokens_mean": statistics.mean(tokens) if tokens else 0.0,
        "tokens_median": statistics.median(tokens) if tokens else 0.0,
        "completion_tokens_mean": statistics.mean(completion) if completion else 0.0,
        "seconds_mean": statistics.mean(seconds) if seconds else 0.0,
        "seconds_median": statistics.median(seconds) if seconds else 0.0,
        "first_answer_seconds_median": statistics.median(first) if first else 0.0,
        "first_answer_pass_at_1": sum(first_ok) / n if n else 0.0,
        "tasks_per_hour": 3600 / statistics.mean(seconds) if seconds and sum(seconds) else 0.0,
        "ceiling": sum(ceiling) / len(ceiling) if ceiling else None,
        "time": time_split(records),
    }


KINDS = ("probe", "inputs", "code", "plans", "repair", "rewrite")


def time_split(records: list[dict[str, Any]]) -> dict[str, float] | None:
    """Mean seconds per task by kind of model request, and the rest (sandbox checks,
    selection, bookkeeping); None for records that did not keep the model's time."""
    timed = [r for r in records if r.get("model_time") is not None]
    if not timed:
        return None
    split = {k: statistics.mean(r["model_time"].get(k, {}).get("seconds", 0.0) for r in timed)
             for k in KINDS}
    split["rest"] = statistics.mean(
        r["seconds"] - sum(d["seconds"] for d in r["model_time"].values()) for r in timed)
    split["tasks"] = len(timed)
    return split


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def markdown(summaries: dict[str, dict[str, Any]], meta: dict[str, Any], *,
             title: str = "HumanEval", baseline: str = "greedy") -> str:
    """The table; the `x baseline` column is each mode's tokens over the `baseline` mode's."""
    lines = [
        f"{title}, {meta.get('task_spec')} ({meta.get('tasks')} tasks), model "
        f"{meta.get('model')}, seed {meta.get('seed')}, {meta.get('date')}",
        "",
        "| mode | pass@1 | 95% CI | verified (precision) | plausible (precision) | "
        f"tokens/task mean (median) | x {baseline} | completion tokens mean | "
        "s/task mean (median) | first answer s median (pass@1) | tasks/h | ceiling |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    base = summaries.get(baseline, {}).get("tokens_mean")
    for mode, s in summaries.items():
        lo, hi = s["ci95"]
        ratio = f"{s['tokens_mean'] / base:.2f}x" if base else "–"
        lines.append(
            f"| {mode} | {s['passed']}/{s['tasks']} = {_pct(s['pass_at_1'])} | "
            f"{_pct(lo)}–{_pct(hi)} | {s['verified']} ({_pct(s['verified_precision'])}) | "
            f"{s['plausible']} ({_pct(s['plausible_precision'])}) | "
            f"{s['tokens_mean']:.0f} ({s['tokens_median']:.0f}) | {ratio} | "
            f"{s['completion_tokens_mean']:.0f} | {s['seconds_mean']:.1f} "
            f"({s['seconds_median']:.1f}) | {s['first_answer_seconds_median']:.1f} "
            f"({_pct(s['first_answer_pass_at_1'])}) | {s['tasks_per_hour']:.0f} | "
            f"{_pct(s['ceiling'])} |"
        )
    split = {m: s["time"] for m, s in summaries.items() if s.get("time")}
    if split:
        lines += ["", "Where a task's time goes, mean seconds per task (model time by kind of "
                  "request; rest: sandbox checks, selection):", "",
                  "| mode | " + " | ".join(KINDS) + " | rest | tasks timed |",
                  "|---|" + "---|" * (len(KINDS) + 2)]
        for mode, t in split.items():
            lines.append(f"| {mode} | " + " | ".join(f"{t[k]:.1f}" for k in KINDS)
                         + f" | {t['rest']:.1f} | {t['tasks']} |")
    return "\n".join(lines)


def plots(summaries: dict[str, dict[str, Any]], out: Path, title: str) -> list[Path]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    modes = list(summaries)
    rates = [100 * summaries[m]["pass_at_1"] for m in modes]
    errs = [[100 * (summaries[m]["pass_at_1"] - summaries[m]["ci95"][0]) for m in modes],
            [100 * (summaries[m]["ci95"][1] - summaries[m]["pass_at_1"]) for m in modes]]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.bar(modes, rates, yerr=errs, capsize=4, color="#4c72b0")
    ax.set_ylabel("pass@1 on hidden tests (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title, fontsize=9)
    plt.setp(ax.get_xticklabels(), rotation=20, ha="right")
    fig.tight_layout()
    p1 = out / "pass_rate.png"
    fig.savefig(p1, dpi=110)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(7, 4))
    for m in modes:
        ax.scatter(summaries[m]["tokens_mean"], 100 * summaries[m]["pass_at_1"], s=40)
        ax.annotate(m, (summaries[m]["tokens_mean"], 100 * summaries[m]["pass_at_1"]),
                    textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.set_xlabel("tokens per task (prompt + completion, mean)")
    ax.set_ylabel("pass@1 (%)")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    p2 = out / "pass_vs_tokens.png"
    fig.savefig(p2, dpi=110)
    plt.close(fig)
    return [p1, p2]


def write_reports(out: Path, meta: dict[str, Any], modes: list[str], *,
                  title: str = "HumanEval", baseline: str = "greedy") -> dict[str, Any]:
    """Summaries of every mode's records in `out`: `modes` in order, combined modes after.
    `title` names the benchmark in the table and plots; `baseline` is the mode whose tokens
    the others are compared with."""
    summaries = {}
    combined = sorted(p.stem for p in out.glob("*+*.jsonl"))
    for mode in modes + combined:
        records = read_records(out / f"{mode}.jsonl")
        if records:
            summaries[mode] = summarize(records)
    text = markdown(summaries, meta, title=title, baseline=baseline)
    (out / "summary.json").write_text(json.dumps({"meta": meta, "modes": summaries}, indent=2))
    (out / "summary.md").write_text(text + "\n")
    images = plots(summaries, out, f"{title} {meta.get('task_spec')} · {meta.get('model')}")
    return {"markdown": text, "summaries": summaries, "plots": [str(p) for p in images]}
