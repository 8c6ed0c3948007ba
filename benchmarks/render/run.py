"""One run of ``kafkarpc bench`` (its ``bench-*.json``) as the pages' tables and sentences."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from benchmarks.render.markdown import EN_DASH, TIMES, Cell, num, table

__all__ = [
    "conversations",
    "cpu",
    "level_rows",
    "method",
    "ratios",
    "results",
    "rounds",
    "summary",
    "targets",
]

Doc = Mapping[str, Any]
Row = Mapping[str, Any]
SUBJECT = "kafkarpc"
_SYSTEM_ORDER = ("raw", "handrolled", "kafkarpc", "kafkarpc-eos")
_SYSTEM_NAMES = {
    "raw": "raw confluent-kafka loop",
    "handrolled": "hand-rolled aiokafka pattern",
    "kafkarpc": "**kafkarpc**",
}


def _systems(doc: Doc) -> list[str]:
    present = {row["system"] for row in doc["results"]}
    return [s for s in _SYSTEM_ORDER if s in present] + sorted(present - set(_SYSTEM_ORDER))


def _loads(doc: Doc) -> list[int]:
    return sorted({int(row["load"]) for row in doc["results"]})


def _rounds_of(doc: Doc, system: str, load: int) -> list[Row]:
    return sorted(
        (r for r in doc["results"] if r["system"] == system and r["load"] == load),
        key=lambda r: int(r.get("round", 1)),
    )


_FIGURES = (
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "mean_ms",
    "max_ms",
    "throughput_rps",
    "client_rss_mb",
    "client_base_rss_mb",
    "responder_rss_mb",
)


def _median(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def median_row(rows: Sequence[Row]) -> Row:
    """One level's rounds as one row: each figure the median over the rounds that ran.

    The same rule as the targets (benchmarks/targets.py): one lucky or unlucky round
    decides nothing, and a round that failed counts for none of the figures.
    """
    if len(rows) == 1:
        return rows[0]
    ran = [r for r in rows if not r.get("failure")] or list(rows)
    merged: dict[str, Any] = dict(ran[0])
    for figure in _FIGURES:
        merged[figure] = _median([r.get(figure) for r in ran])
    merged["cpu"] = {k: _median([r["cpu"].get(k) for r in ran]) for k in ran[0]["cpu"]}
    merged["rounds"] = len(rows)
    return merged


def level_rows(doc: Doc) -> list[Row]:
    """One row per (load, system): the medians of the rounds where a load ran several."""
    chosen: list[Row] = []
    for load in _loads(doc):
        for system in _systems(doc):
            rows = _rounds_of(doc, system, load)
            if rows:
                chosen.append(median_row(rows))
    return chosen


def _multi_round_loads(doc: Doc) -> list[int]:
    return [
        load
        for load in _loads(doc)
        if any(len(_rounds_of(doc, s, load)) > 1 for s in _systems(doc))
    ]


def _stamp(doc: Doc) -> str:
    started = datetime.fromisoformat(str(doc["meta"]["started_at"]))
    return started.strftime("%Y-%m-%d %H:%M UTC")


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} seconds"
    return f"{seconds / 60:.0f} minutes"


def method(doc: Doc, stem: str) -> str:
    """Where, when and how the run was measured, and the file it came from."""
    meta = doc["meta"]
    requests = ", ".join(
        f"{num(int(count))} at {load} in flight" for load, count in meta["requests"].items()
    )
    rounds = ""
    if multi := _multi_round_loads(doc):
        count = max(len(_rounds_of(doc, s, multi[0])) for s in _systems(doc))
        where = " and ".join(str(load) for load in multi)
        rounds = (
            f" At {where} in flight every system ran {count} rounds, interleaved; each"
            " figure of the tables is the median over the rounds, as the targets judge"
            " them (every round's requests/s is listed under the CPU table)."
        )
    commit = f"commit `{meta['commit']}`" if meta.get("commit") else "an unrecorded commit"
    if meta.get("quick"):
        rounds += (
            " This was a quick run (`--quick`): it checks the harness, its numbers mean little."
        )
    return (
        f"Measured on {_stamp(doc)} at {commit}: {meta['broker']} broker, "
        f"{meta['cpus']} CPUs shared by client, responder and broker, Python "
        f"{meta['python']} on `{meta['platform']}`; `--seed {meta['seed']}`, "
        f"{meta['partitions']} partitions, {meta['payload_bytes']}-byte payloads, "
        f"measured requests: {requests}. The run took {_duration(float(meta['duration_s']))}."
        f"{rounds} Its JSON: `benchmarks/results/{stem}.json`."
    )


def _errors_sentence(doc: Doc) -> str:
    multi = _multi_round_loads(doc)
    bad = [r for r in doc["results"] if r.get("failure") or r.get("errors")]
    if not bad:
        return "No level had an error or a timeout."
    listed = "; ".join(
        f"{r['system']} at {r['load']} in flight"
        + (f" (round {r.get('round', 1)})" if r["load"] in multi else "")
        + (": the level failed" if r.get("failure") else "")
        + f": {num(int(r['errors']))} of {num(int(r['requests']))} requests failed"
        for r in bad
    )
    return f"Levels with errors: {listed}."


def results(doc: Doc) -> str:
    rows = level_rows(doc)
    body = [
        [
            r["system"],
            str(r["load"]),
            num(r["p50_ms"], 2),
            num(r["p95_ms"], 2),
            num(r["p99_ms"], 2),
            num(r["throughput_rps"]),
            num(r["client_rss_mb"], 1),
            num(r["responder_rss_mb"], 1),
        ]
        for r in rows
    ]
    headers = ["system", "in flight", "p50 ms", "p95 ms", "p99 ms", "requests/s"]
    headers += ["client MB", "responder MB"]
    rendered = table(headers, body, [False] + [True] * 7)
    return f"{rendered}\n\n{_errors_sentence(doc)}"


def _cpu_total(row: Row) -> float | None:
    parts = [row["cpu"].get(k) for k in ("client_us", "responder_us", "broker_us")]
    return None if any(p is None for p in parts) else float(sum(parts))


def _cpu_bound(doc: Doc) -> str:
    """What the cores allow at kafkarpc's CPU per request, at its busiest load."""
    cpus = int(doc["meta"]["cpus"])
    mine = [r for r in level_rows(doc) if r["system"] == SUBJECT and _cpu_total(r)]
    if not mine:
        return ""
    busiest = max(mine, key=lambda r: int(r["load"]))
    total = _cpu_total(busiest)
    assert total is not None
    ceiling = cpus * 1_000_000 / total
    return (
        f"\n\n{cpus} cores give {num(cpus * 1_000_000)} µs of CPU a second. At "
        f"{busiest['load']} in flight kafkarpc's three processes spent "
        f"{num(total)} µs per request together, so the cores allow at most "
        f"{num(ceiling)} requests/s at that cost; the run measured "
        f"{num(busiest['throughput_rps'])}."
    )


def cpu(doc: Doc) -> str:
    rows = [r for r in level_rows(doc) if any(v is not None for v in r["cpu"].values())]
    body: list[list[Cell]] = [
        [
            r["system"],
            str(r["load"]),
            num(r["cpu"]["client_us"]),
            num(r["cpu"]["responder_us"]),
            num(r["cpu"]["broker_us"]),
            num(_cpu_total(r)),
        ]
        for r in rows
    ]
    headers = ["µs of CPU per request", "in flight", "client", "responder", "broker", "total"]
    return table(headers, body, [False] + [True] * 5) + _cpu_bound(doc) + _library_cpu(doc)


def _library_cpu(doc: Doc) -> str:
    """kafkarpc's own Python per request, measured without a broker in the same run."""
    own = doc.get("library_cpu")
    if not own:
        return ""
    return (
        f"\n\nkafkarpc's own Python per request, measured in the same run without a broker "
        f"or librdkafka (`benchmarks/hotpath.py`, {own['load']} in flight, best of "
        f"{own['rounds']} rounds of {num(int(own['requests']))} requests): client "
        f"{num(own['client_us'], 1)} µs, responder {num(own['responder_us'], 1)} µs. It is "
        "the part of kafkarpc's CPU per request that the raw loop does not spend at all."
    )


def rounds(doc: Doc) -> str:
    """Every round of the loads that ran several, with the median the tables use."""
    multi = _multi_round_loads(doc)
    if not multi:
        return "This run measured one round per load."
    count = max(len(_rounds_of(doc, s, load)) for s in _systems(doc) for load in multi)
    body: list[list[Cell]] = []
    for load in multi:
        for system in _systems(doc):
            rows = _rounds_of(doc, system, load)
            if not rows:
                continue
            rps = [r.get("throughput_rps") for r in rows]
            cells: list[Cell] = [system, str(load), *(num(v) for v in rps)]
            cells += [""] * (count - len(rows))
            known = [v for v in rps if v is not None]
            cells.append(f"**{num(statistics.median(known))}**" if known else EN_DASH)
            body.append(cells)
    headers = ["requests/s", "in flight", *(f"round {i}" for i in range(1, count + 1)), "median"]
    return table(headers, body, [False] + [True] * (count + 2))


_RATIO_METRICS = (
    ("p50_ms", "p50"),
    ("p95_ms", "p95"),
    ("p99_ms", "p99"),
    ("throughput_rps", "requests/s"),
    ("client_rss_mb", "client MB"),
    ("responder_rss_mb", "responder MB"),
)


def _times(value: float | None) -> str:
    return EN_DASH if value is None else f"{value:.2f}{TIMES}"


def ratios(doc: Doc) -> str:
    rows = doc.get("ratios") or []
    if not rows:
        return "This run has no ratios: kafkarpc ran without a baseline."
    with_round = any("round" in r for r in rows)
    headers = [f"{SUBJECT} / baseline", "in flight", *(["round"] if with_round else [])]
    headers += [label for _, label in _RATIO_METRICS]
    body: list[list[Cell]] = []
    for r in rows:
        cells: list[Cell] = [f"{SUBJECT} / {r['baseline']}", str(r["load"])]
        if with_round:
            cells.append(r.get("round", ""))
        cells += [_times(r.get(metric)) for metric, _ in _RATIO_METRICS]
        body.append(cells)
    return table(headers, body, [False] + [True] * (len(headers) - 1))


def _verdict(met: bool | None) -> str:
    return {True: "met", False: "**not met**", None: "not measured"}[met]


def targets(doc: Doc) -> str:
    rows = doc.get("targets") or []
    if not rows:
        return "This run judged no targets."
    body: list[list[Cell]] = [
        [t["name"], t["goal"], t["measured"], _verdict(t["met"])] for t in rows
    ]
    rendered = table(["target", "goal", "measured", ""], body, [False] * 4)
    return f"{rendered}\n\n{_met_sentence(rows)}"


def _met_sentence(rows: Sequence[Row]) -> str:
    met = sum(1 for t in rows if t["met"] is True)
    judged = sum(1 for t in rows if t["met"] is not None)
    return f"{met} of the {judged} targets this run measured are met."


def conversations(doc: Doc) -> str:
    figures = doc.get("conversations")
    if not figures:
        return "This run did not measure conversations (kafkarpc was not among its systems)."
    single, gather, stream = figures["single_call"], figures["gather"], figures["stream"]
    sizes = figures["sizes"]
    items = num(int(stream["items"]))
    body: list[list[Cell]] = [
        [
            "single call",
            num(single["p50_ms"], 1),
            num(single["p95_ms"], 1),
            f"{num(single['calls_per_s'])} calls",
        ],
        [
            f"gather answered by {gather['groups']} groups, until the last reply",
            num(gather["p50_ms"], 1),
            num(gather["p95_ms"], 1),
            f"{num(gather['gathers_per_s'])} gathers",
        ],
        [
            f"stream of {items} items: the first item",
            num(stream["first_item_p50_ms"], 1),
            "",
            f"{num(stream['items_per_s'])} items",
        ],
        [f"stream of {items} items: the whole stream", num(stream["stream_p50_ms"], 1), "", ""],
    ]
    rendered = table(["conversation", "p50 ms", "p95 ms", "per second"], body, [False] + [True] * 3)
    return (
        f"{num(int(sizes['calls']))} calls and gathers, {num(int(sizes['streams']))} streams, "
        f"in the same run:\n\n{rendered}"
    )


def summary(doc: Doc, stem: str, docs_link: str) -> str:
    """README's Performance section: the main figures and the targets, in brief."""
    meta = doc["meta"]
    rows = [r for r in level_rows(doc) if r["system"] in _SYSTEM_NAMES]
    body: list[list[Cell]] = [
        [
            str(r["load"]),
            _SYSTEM_NAMES[r["system"]],
            num(r["p50_ms"], 1),
            num(r["p95_ms"], 1),
            num(r["throughput_rps"]),
            num(_cpu_total(r)),
        ]
        for r in rows
    ]
    headers = ["in flight", "system", "p50 ms", "p95 ms", "requests/s"]
    headers.append("CPU µs/request (all 3 processes)")
    figures = table(headers, body, [True, False, True, True, True, True])
    judged = doc.get("targets") or []
    verdicts: list[list[Cell]] = [[t["name"], t["goal"], _verdict(t["met"])] for t in judged]
    commit = f" at commit `{meta['commit']}`" if meta.get("commit") else ""
    intro = (
        f"Measured with `kafkarpc bench` on {_stamp(doc)}{commit} ({meta['broker']} broker, "
        f"{meta['cpus']} CPUs shared by client, responder and broker; "
        f"`benchmarks/results/{stem}.json`). [{docs_link}]({docs_link}) has the method, "
        "every table, the curves and what each optimization bought."
    )
    if multi := _multi_round_loads(doc):
        where = " and ".join(str(load) for load in multi)
        intro += f" At {where} in flight each figure is the median of the run's rounds."
    parts = [intro, figures]
    if verdicts:
        parts.append(table(["target", "goal", "this run"], verdicts, [False] * 3))
        parts.append(_met_sentence(judged))
    return "\n\n".join(parts)
