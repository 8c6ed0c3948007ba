"""Per-curve tables for the four curves of issue 15, from each curve module's dict.

Each function reads the dict its curve's ``measure`` returns (benchmarks/curves/)
and picks what a reader needs: the dimension grown, the cost that should stay flat,
errors. When a curve's dict changes shape, ``curves.curve_section`` falls back to
the generic rendering rather than fail, so adapt the function here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from benchmarks.render.markdown import Cell, cell, num, table

__all__ = ["VIEWS", "clients", "operations", "payload", "workers"]

Curve = Mapping[str, Any]
_KB = 1024


def _size(size: int) -> str:
    return f"{size // _KB:,} KB" if size >= _KB else f"{size} B"


def _ratio(mine: float | None, theirs: float | None) -> str:
    return "" if mine is None or not theirs else f"{mine / theirs:.2f}x"


def payload(data: Curve) -> str:
    rows = data["sizes"]
    systems: Sequence[str] = data.get("systems") or sorted(rows[0]["systems"])
    both = "raw" in systems and "kafkarpc" in systems
    headers = ["payload", *(f"{s} MB/s" for s in systems)]
    headers += ["kafkarpc / raw"] if both else []
    headers += [*(f"{s} p95 ms" for s in systems), "errors"]
    body: list[list[Cell]] = []
    for row in rows:
        entries = [row["systems"].get(s, {}) for s in systems]
        cells: list[Cell] = [_size(int(row["payload_bytes"]))]
        cells += [num(e.get("mb_per_s"), 2) for e in entries]
        if both:
            by = row["systems"]
            cells.append(_ratio(by["kafkarpc"].get("mb_per_s"), by["raw"].get("mb_per_s")))
        cells += [num(e.get("p95_ms"), 1) for e in entries]
        cells.append(sum(int(e.get("errors") or 0) for e in entries))
        body.append(cells)
    intro = (
        f"{data['load']} in flight, {data['partitions']} partitions; MB/s is "
        f"{data['mb_per_s_definition']}."
    )
    parts = [intro, table(headers, body, [False] + [True] * (len(headers) - 1))]
    if over := data.get("over_limit"):
        if broker := over.get("broker_takes_larger"):
            took = "stored it" if broker["accepted"] else f"refused it ({broker['error']})"
            parts.append(
                f"Sent a {num(int(broker['record_bytes']))}-byte record with the producer's "
                f"limit raised: the broker {took}."
            )
        cases: list[list[Cell]] = [
            [c["case"], num(int(c["payload_bytes"])), f"`{c['raised']}`", num(c["elapsed_ms"], 1)]
            for c in over["cases"]
        ]
        parts.append(
            f"Calls over the message limit ({num(int(over['limit_bytes']))} bytes: "
            f"{over['limit_source']}):\n\n"
            + table(
                ["case", "payload bytes", "raised", "ms to fail"], cases, [False, True, False, True]
            )
        )
    return "\n\n".join(parts)


def operations(data: Curve) -> str:
    body: list[list[Cell]] = []
    for r in data["levels"]:
        by = r["systems"]
        ours, raw = by.get("kafkarpc", {}), by.get("raw", {})
        cpu = ours.get("cpu_us_per_request") or {}
        body.append(
            [
                r["operations"],
                r["topics"],
                num(ours.get("throughput_rps")),
                num(raw.get("throughput_rps")),
                _ratio(ours.get("throughput_rps"), raw.get("throughput_rps")),
                num(ours.get("p50_ms"), 1),
                num(ours.get("p95_ms"), 1),
                num(ours.get("server_ready_s"), 1),
                num(ours.get("server_ready_rss_mb"), 1),
                num(ours.get("server_peak_rss_mb"), 1),
                num(cpu.get("server")),
                num(cpu.get("broker")),
                sum(int(e.get("errors") or 0) for e in by.values()),
            ]
        )
    headers = ["operations", "topics", "kafkarpc requests/s", "raw requests/s", "kafkarpc / raw"]
    headers += ["p50 ms", "p95 ms", "server ready s", "server MB when ready", "server peak MB"]
    headers += ["server CPU µs/request", "broker CPU µs/request", "errors"]
    systems = data["systems"]
    intro = (
        f"{systems['kafkarpc']}, next to the {systems['raw']} (the latency, memory and CPU "
        f"columns are kafkarpc's); {data['load']} in flight, {data['payload_bytes']}-byte "
        f"payloads, {data['partitions_per_topic']} partition per topic, "
        f"{num(int(data['requests_per_level']))} requests per level, {data['spread']}."
    )
    parts = [intro, table(headers, body, [True] * len(headers))]
    if first := data.get("first_calls"):
        parts.append(
            f"A fresh client's first calls to all {first['operations']} operations at once: "
            f"the last answered after {num(first['last_answered_s'], 2)} s (median "
            f"{num(first['median_answered_s'], 2)} s), {first['errors']} failed."
        )
    return "\n\n".join(parts)


def clients(data: Curve) -> str:
    levels: Mapping[str, Sequence[Mapping[str, Any]]] = data["levels"]
    configs = list(levels)
    counts = data["settings"]["clients"]
    headers = ["clients"]
    for config in configs:
        headers += [f"`{config}` client CPU µs/call", f"`{config}` others' replies/call"]
    body: list[list[Cell]] = []
    for count in counts:
        cells: list[Cell] = [count]
        for config in configs:
            level = next((lv for lv in levels[config] if lv.get("clients") == count), {})
            if "failure" in level or not level:
                cells += ["failed" if level else "", ""]
                continue
            cells.append(num(level["client_cpu_us_per_call"]["median"]))
            cells.append(num(level["foreign_replies_per_call"]["median"], 1))
        body.append(cells)
    settings = data["settings"]
    described = "\n".join(
        f"- `{name}`{' (recommended)' if name == data.get('recommended') else ''}: {text}"
        for name, text in data["configurations"].items()
    )
    intro = (
        f"{settings['in_flight_per_client']} in flight per client, "
        f"{num(int(settings['calls_per_client']))} calls per client, "
        f"{settings['reply_partitions']} reply partitions; {settings['responder']}. "
        "CPU per call is the median over the clients of a level."
    )
    return f"{intro}\n\n{table(headers, body, [True] * len(headers))}\n\n{described}"


def workers(data: Curve) -> str:
    body: list[list[Cell]] = [
        [
            p["workers"],
            num(p["rps"]),
            ", ".join(num(v) for v in p.get("rps_rounds", [])),
            num(p["p50_ms"], 1),
            num(p["p95_ms"], 1),
            num(p["handler_cpu_ms_p50"], 2),
            num(p.get("worker_overhead_us")),
            p.get("answering_workers", ""),
            p["errors"],
        ]
        for p in data["points"]
    ]
    headers = ["workers", "requests/s (median)", "rounds", "p50 ms", "p95 ms"]
    headers += ["handler CPU ms", "worker overhead µs/request", "answering workers", "errors"]
    handler = data["handler"]
    lines = [
        f"`{data['command']}` on {data['cores']} cores; the handler: {handler['kind']}, "
        f"{num(handler['calibrated_cpu_ms'], 2)} ms of CPU per request.",
        table(headers, body, [True, True, False, True, True, True, True, True, True]),
    ]
    facts = []
    if data.get("speedup") is not None:
        rounds = ", ".join(f"{v:.2f}x" for v in data.get("speedup_rounds", []))
        facts.append(
            f"Two workers against one: {data['speedup']:.2f}x"
            + (f" (rounds: {rounds})." if rounds else ".")
        )
    if ceiling := data.get("cpu_ceiling"):
        facts.append(
            "What the measured CPU per request allows with the cores to this run alone: "
            + ", ".join(f"{k.replace('_', ' ')} {cell(v)}" for k, v in ceiling.items())
            + "."
        )
    return "\n\n".join(lines + facts)


VIEWS = {"payload": payload, "operations": operations, "clients": clients, "workers": workers}
