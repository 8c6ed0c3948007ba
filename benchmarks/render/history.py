"""``benchmarks/results/history.json``: earlier sessions' measurements, as the page's tables.

What earlier runs measured does not change, so these numbers live in one committed
file instead of a file per run. Sentences that compare two rows (the soak's growth,
exactly-once against at-least-once, a change in instruction counts) are computed here
from the rows, so the page cannot quote a figure its table does not hold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from benchmarks.importtime import table_row
from benchmarks.render.markdown import Cell, cell, num, percent_change, signed, table

__all__ = [
    "bisect",
    "earlier_runs",
    "exactly_once",
    "importtime",
    "instructions",
    "levers",
    "redesign",
    "soak",
    "tried",
]

History = Mapping[str, Any]
_LOADS = ("1", "16", "256", "1024")


def earlier_runs(history: History) -> str:
    rows = history["earlier_runs"]
    body: list[list[Cell]] = [
        [
            r["run"],
            f"`{r['commit']}`" if r["commit"] else "",
            r["requests_at_256"],
            r["system"],
            *(r["rps"].get(load) for load in _LOADS),
        ]
        for r in rows
    ]
    headers = ["run", "commit", "requests measured at 256", "system"]
    headers += [f"req/s at {load}" for load in _LOADS]
    return table(headers, body, [False, False, True, False, True, True, True, True])


def soak(history: History) -> str:
    data = history["soak"]
    samples = data["samples"]
    headers = ["requests"]
    headers += [f"{s['requests'] // 1000}k" if s["requests"] else "0" for s in samples]
    row: list[Cell] = ["client RSS MB", *(num(s["rss_mb"], 1) for s in samples)]
    first, second, last = samples[0]["rss_mb"], samples[1]["rss_mb"], samples[-1]["rss_mb"]
    after_first = samples[1]["requests"]
    rest = samples[-1]["requests"] - after_first
    return (
        f"Measured at commit `{data['commit']}`: {num(data['load'])} in flight, "
        f"{num(data['partitions'])} partitions, RSS read every {num(data['every'])} requests "
        f"after a {num(data['warmup'])}-request warm-up.\n\n"
        + table(headers, [row], [False] + [True] * len(samples))
        + f"\n\nThe client grew by {num(last - first, 1)} MB after warm-up: "
        f"{num(second - first, 1)} MB in the first {num(after_first)} requests and "
        f"{num(last - second, 1)} MB over the next {num(rest)}."
    )


def _by_level(rows: Sequence[Mapping[str, Any]]) -> dict[tuple[str, int], Mapping[str, Any]]:
    return {(r["system"], int(r["load"])): r for r in rows}


def exactly_once(history: History) -> str:
    data = history["exactly_once"]
    rows = data["rows"]
    body: list[list[Cell]] = [
        [
            "kafkarpc (at least once)" if r["system"] == "kafkarpc" else r["system"],
            r["load"],
            num(r["p50_ms"], 2),
            num(r["p95_ms"], 2),
            num(r["p99_ms"], 2),
            num(r["throughput_rps"]),
            num(r["responder_cpu_us"]),
            num(r["broker_cpu_us"]),
        ]
        for r in rows
    ]
    headers = ["system", "in flight", "p50 ms", "p95 ms", "p99 ms", "req/s"]
    headers += ["responder CPU µs/req", "broker CPU µs/req"]
    levels = _by_level(rows)
    sentences = []
    for load in sorted({int(r["load"]) for r in rows}):
        base, eos = levels.get(("kafkarpc", load)), levels.get(("kafkarpc-eos", load))
        if base is None or eos is None:
            continue
        sentences.append(
            f"at {load} in flight p50 {signed(eos['p50_ms'] - base['p50_ms'], unit=' ms')}, "
            f"p95 {signed(eos['p95_ms'] - base['p95_ms'], unit=' ms')} "
            f"({percent_change(base['p95_ms'], eos['p95_ms'])}), requests/s "
            f"{percent_change(base['throughput_rps'], eos['throughput_rps'])}, broker CPU per "
            f"request {percent_change(base['broker_cpu_us'], eos['broker_cpu_us'])}"
        )
    intro = (
        f"Commit `{data['commit']}` plus the benchmark system, {num(data['partitions'])} "
        f"partitions, {num(data['requests'])} measured requests per level "
        f"(`{data['command']}`):"
    )
    summary = ""
    if sentences:
        summary = f"\n\nExactly-once against at least once: {'; '.join(sentences)}."
    return f"{intro}\n\n{table(headers, body, [False] + [True] * 7)}{summary}"


def levers(history: History) -> str:
    body: list[list[Cell]] = [[r["lever"], r["measured"], r["status"]] for r in history["levers"]]
    return table(["lever", "measured", "why it is not simply taken"], body, [False] * 3)


def _k(count: int) -> str:
    return f"{count / 1000:.0f}k"


def instructions(history: History) -> str:
    rows = history["instructions"]["sessions"]
    start = rows[0]
    body: list[list[Cell]] = []
    for i, r in enumerate(rows):
        label = r["label"] + (f", `{r['commit']}`" if r["commit"] else "")
        cells = [label]
        for side in ("client", "responder"):
            count = _k(r[side])
            if i:
                count += f" ({percent_change(start[side], r[side])})"
            cells.append(f"**{count}**" if i == len(rows) - 1 else count)
        body.append(cells)
    return table(["instructions per request", "client", "responder"], body, [False, True, True])


def redesign(history: History) -> str:
    data = history["instructions"]["redesign"]
    before, after = data["before"], data["after"]
    body: list[list[Cell]] = [
        [f"before (`{before['commit']}`)", before["client"], before["responder"]],
        [f"after (`{after['commit']}`)", after["client"], after["responder"]],
        [
            "change",
            percent_change(before["client"], after["client"]),
            percent_change(before["responder"], after["responder"]),
        ],
    ]
    return table(["instructions per request", "client", "responder"], body, [False, True, True])


def bisect(history: History) -> str:
    steps = history["instructions"]["responder_bisect"]
    body: list[list[Cell]] = []
    for i, step in enumerate(steps):
        label = step["step"] + (f" (`{step['commit']}`)" if step["commit"] else "")
        change = (step["responder"] - steps[i - 1]["responder"]) / 1000 if i else None
        delta = "" if change is None else signed(change, unit="k")
        body.append([label, f"{step['responder'] / 1000:.1f}k", delta])
    return table(["responder, merged in turn", "instructions per request", "change"], body,
                 [False, True, True])  # fmt: skip


def tried(history: History) -> str:
    body: list[list[Cell]] = [
        [f"*{r['heading']}*", ""] if "heading" in r else [cell(r["change"]), cell(r["effect"])]
        for r in history["tried"]
    ]
    return table(["change", "effect"], body, [False, False])


def importtime(history: History) -> str:
    data = history["importtime"]
    rows = data["runs"]
    header = (
        "| code | `import kafkarpc` | dependencies | ratio | first client "
        "| dependencies + one model |\n|---|---|---|---|---|---|"
    )
    goal = float(data["goal_ratio"])
    latest = rows[-1]
    verdict = "meets" if float(latest["ratio"]) <= goal else "misses"
    return (
        f"{header}\n" + "\n".join(table_row(r) for r in rows) + "\n\n"
        f"The target (issue {data['issue']}) is an import within {goal:g}x of importing the "
        f"dependencies alone; the latest row, `{latest['commit']}`, {verdict} it at "
        f"{float(latest['ratio']):.2f}x. Python {data['python']}."
    )
