"""The clients curve: 1 to 16 client processes calling one operation, sharing its reply topics.

By default every kafkarpc client reads every partition of an operation's reply topics,
so with N clients each reads N replies for each of its own. The curve runs each number
of clients three ways (the reply partition setting of docs/concepts.md, "Many clients
sharing reply topics") and records the CPU one client spends per call it made:

- ``default``: ``Topics()``, every client reads every reply partition;
- ``pinned``: ``Topics(reply_partition=i)`` for client ``i``, a stable instance index
  (a pod ordinal, a worker number): distinct partitions, guaranteed;
- ``auto``: ``Topics(reply_partition="auto")``, a random partition per instance.

Every client starts the same number of calls at the same pace (a few in flight at
most), so the responder and the broker stay far from their limits even at 16 clients,
and a client's time-driven costs weigh the same on each call at every level.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from benchmarks.curves.base import Curve, CurveContext, Target
from benchmarks.curves.clients_level import (
    LevelSettings,
    ReplyPartitionSetting,
    run_clients_level,
)
from benchmarks.kafka import fresh_topics
from benchmarks.level import LevelError

__all__ = ["CURVE", "measure", "targets"]

TARGET_CLIENTS = 16
TARGET_RATIO = 1.5
RECOMMENDED = "pinned"

_SETTINGS: dict[str, Callable[[int], ReplyPartitionSetting]] = {
    "default": lambda index: None,
    "pinned": lambda index: index,
    "auto": lambda index: "auto",
}
_DESCRIPTIONS = {
    "default": "Topics(): every client reads every partition of the reply topics",
    "pinned": "Topics(reply_partition=i) for client i (a stable instance index): "
    "distinct partitions, guaranteed",
    "auto": 'Topics(reply_partition="auto"): a partition drawn at random per client '
    "instance; with C clients on P partitions a client shares with (C-1)/P others on average",
}
_METRIC = (
    "client_work_cpu_us_per_call (judged): the CPU one client process spent on its "
    "measured calls beyond what it spends idle, per call it made: its CPU "
    "(/proc/PID/task/*/schedstat, every thread, librdkafka's included) from 'go' to its "
    "last reply, less client_idle_cpu_us_per_s (read just before, every client warmed up "
    "and waiting) times that window; each client starts calls_per_s_per_client calls a "
    "second. Median, min and max over the level's clients. client_cpu_us_per_call: the "
    "same without the idle share taken off. work_cpu_ratio_to_one_client and "
    "extra_work_cpu_us_per_call: against the same configuration's 1-client level (the "
    "same load with no other clients), i.e. what the other clients cost one client: "
    "reading their replies (foreign_replies_per_call, replies a client read that were "
    "another's, client.stats.late_replies, per call it made: N-1 by default, 0 pinned) "
    "and sharing the machine's cores with them. reading_cost: default minus pinned at "
    "the same number of clients, the reading alone with the machine loaded alike."
)


def _level_settings(quick: bool) -> tuple[tuple[int, ...], LevelSettings]:
    if quick:
        # Tansu holds a group join for about half the session timeout: 1 s here.
        responder = {"session.timeout.ms": "2000", "heartbeat.interval.ms": "500"}
        tiny = LevelSettings(
            in_flight=2, rate=100.0, calls=30, idle_s=0.3, warmup=3, payload_bytes=64,
            timeout_s=10.0, ready_timeout_s=60.0, responder_config=responder,
        )  # fmt: skip
        return (1, 2), tiny
    # 16 clients at 50 calls/s are 800 calls/s in all: far from what one responder and
    # Tansu serve, so neither becomes the bottleneck the curve would then measure.
    full = LevelSettings(
        in_flight=4, rate=50.0, calls=600, idle_s=2.0, warmup=20, payload_bytes=64,
        timeout_s=10.0, ready_timeout_s=180.0, responder_config={},
    )  # fmt: skip
    return (1, 2, 4, 8, 16), full


def _with_baseline(levels: list[dict[str, Any]]) -> None:
    """Add each level's client CPU over the same configuration's 1-client level."""
    one = next((lv for lv in levels if lv["clients"] == 1 and "failure" not in lv), None)
    for metric, ratio, extra in (
        (
            "client_work_cpu_us_per_call",
            "work_cpu_ratio_to_one_client",
            "extra_work_cpu_us_per_call",
        ),
        ("client_cpu_us_per_call", "cpu_ratio_to_one_client", "extra_cpu_us_per_call"),
    ):
        base: float | None = None if one is None else one[metric]["median"]
        for level in levels:
            median: float | None = level.get(metric, {}).get("median")
            if base is None or median is None:
                level[extra] = level[ratio] = None
                continue
            level[extra] = median - base
            level[ratio] = median / base if base > 0 else None


def _reading_cost(levels: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Default minus pinned at each number of clients: the same processes load the
    machine alike, only the default ones read each other's replies, so the difference
    is what reading them costs one client (a 1-client baseline would also fold in how
    the machine's speed changes with its load)."""
    rows: list[dict[str, Any]] = []
    for default in levels.get("default", []):
        clients = default["clients"]
        pinned = next((lv for lv in levels.get("pinned", []) if lv["clients"] == clients), None)
        if "failure" in default or pinned is None or "failure" in pinned:
            continue
        a = default["client_work_cpu_us_per_call"]["median"]
        b = pinned["client_work_cpu_us_per_call"]["median"]
        foreign = default["foreign_replies_per_call"]["median"]
        cost = None if a is None or b is None else a - b
        rows.append(
            {
                "clients": clients,
                "work_cpu_us_per_call_default_minus_pinned": cost,
                "foreign_replies_per_call_default": foreign,
                "us_per_foreign_reply": cost / foreign if cost is not None and foreign else None,
            }
        )
    return rows


def measure(ctx: CurveContext) -> dict[str, Any]:
    counts, settings = _level_settings(ctx.quick)
    partitions = max(TARGET_CLIENTS, *counts)
    rng = random.Random(ctx.seed)
    levels: dict[str, list[dict[str, Any]]] = {name: [] for name in _SETTINGS}
    for clients in counts:
        # A seeded shuffle per level: no configuration always runs first on a cold broker.
        for name in rng.sample(list(_SETTINGS), k=len(_SETTINGS)):
            topics = fresh_topics(f"clients-{name}", clients, partitions)
            ctx.admin.create(topics)
            try:
                level = run_clients_level(ctx.broker, topics, clients, _SETTINGS[name], settings)
            except LevelError as exc:
                level = {"clients": clients, "failure": str(exc)}
            finally:
                ctx.admin.delete(topics)
            levels[name].append(level)
            ctx.say(f"{clients:>2} clients, {name:<7}: {_one_line(level)}")
    for config_levels in levels.values():
        config_levels.sort(key=lambda level: int(level["clients"]))
        _with_baseline(config_levels)
    return {
        "settings": {
            "clients": list(counts),
            "calls_per_s_per_client": settings.rate,
            "idle_s": settings.idle_s,
            "max_in_flight_per_client": settings.in_flight,
            "calls_per_client": settings.calls,
            "warmup_per_client": settings.warmup,
            "payload_bytes": settings.payload_bytes,
            "reply_partitions": partitions,
            "timeout_s": settings.timeout_s,
            "responder": "one kafkarpc RpcServer (benchmarks.systems.kafkarpc_system echo)",
        },
        "configurations": dict(_DESCRIPTIONS),
        "recommended": RECOMMENDED,
        "metric": _METRIC,
        "levels": levels,
        "reading_cost": _reading_cost(levels),
    }


def _one_line(level: dict[str, Any]) -> str:
    if "failure" in level:
        return "FAILED: " + str(level["failure"]).strip().splitlines()[-1]
    cpu = level["client_work_cpu_us_per_call"]["median"]
    raw = level["client_cpu_us_per_call"]["median"]
    foreign = level["foreign_replies_per_call"]["median"]
    return (
        f"{_number(cpu)} µs work CPU/call per client ({_number(raw)} with idle), "
        f"{_number(foreign, 1)} foreign replies/call, "
        f"{level['errors']} errors"
    )


def _number(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _level(data: dict[str, Any], config: str, clients: int) -> dict[str, Any] | None:
    for level in data.get("levels", {}).get(config, []):
        if level.get("clients") == clients and "failure" not in level:
            found: dict[str, Any] = level
            return found
    return None


def targets(data: dict[str, Any]) -> list[Target]:
    config = data.get("recommended", RECOMMENDED)
    name = f"clients: reply-side CPU per call of one client, {TARGET_CLIENTS} clients vs 1"
    goal = f"<= {TARGET_RATIO}x ({config} reply partitions)"
    one, many = _level(data, config, 1), _level(data, config, TARGET_CLIENTS)
    if one is None or many is None:
        return [Target(name, goal, f"not measured at 1 and {TARGET_CLIENTS} clients", None)]
    errors = one["errors"] + many["errors"]
    base = one["client_work_cpu_us_per_call"]["median"]
    top = many["client_work_cpu_us_per_call"]["median"]
    if base is None or top is None or base <= 0:
        return [Target(name, goal, "client CPU unreadable (/proc)", None)]
    ratio = top / base
    measured = f"{ratio:.2f}x ({base:.0f} -> {top:.0f} µs/call)"
    default = _level(data, "default", TARGET_CLIENTS)
    if default is not None and default.get("work_cpu_ratio_to_one_client") is not None:
        measured += f"; default {default['work_cpu_ratio_to_one_client']:.2f}x"
    if errors:
        return [Target(name, goal, f"{measured}, {errors} failed calls", False)]
    return [Target(name, goal, measured, ratio <= TARGET_RATIO)]


def format_table(data: dict[str, Any]) -> str:
    configs = list(data["levels"])
    header = f"{'clients':>7}  " + "  ".join(
        f"{c + ' work µs/call (foreign/call)':>35}" for c in configs
    )
    lines = [header]
    for clients in data["settings"]["clients"]:
        cells = []
        for config in configs:
            level = _level(data, config, clients)
            if level is None:
                cells.append(f"{'failed':>35}")
                continue
            cpu = level["client_work_cpu_us_per_call"]["median"]
            foreign = level["foreign_replies_per_call"]["median"]
            errors = f" {level['errors']} err" if level["errors"] else ""
            cells.append(f"{_number(cpu) + ' (' + _number(foreign, 1) + ')' + errors:>35}")
        lines.append(f"{clients:>7}  " + "  ".join(cells))
    for row in data.get("reading_cost", []):
        if row["clients"] > 1:
            lines.append(
                f"reading others' replies at {row['clients']} clients (default - pinned): "
                f"{_number(row['work_cpu_us_per_call_default_minus_pinned'])} µs/call"
            )
    recommended = data["recommended"]
    lines.append(f"recommended: {recommended} ({data['configurations'][recommended]})")
    return "\n".join(lines)


_COLOURS = {"default": "tab:gray", "pinned": "tab:blue", "auto": "tab:green"}


def plot(ax: Any, data: dict[str, Any]) -> None:
    top = 0.0
    for config, config_levels in data["levels"].items():
        points = sorted(
            (level["clients"], level["client_work_cpu_us_per_call"])
            for level in config_levels
            if "failure" not in level and level["client_work_cpu_us_per_call"]["median"] is not None
        )
        if not points:
            continue
        xs = [clients for clients, _ in points]
        label = config + (" (recommended)" if config == data["recommended"] else "")
        colour = _COLOURS.get(config)
        ax.plot(xs, [cpu["median"] for _, cpu in points], marker="o", label=label, color=colour)
        lows = [cpu["min"] for _, cpu in points]
        highs = [cpu["max"] for _, cpu in points]
        ax.fill_between(xs, lows, highs, color=colour, alpha=0.15)
        top = max(top, *highs)
    ax.set_xscale("log", base=2)
    counts = data["settings"]["clients"]
    ax.set_xticks(counts, [str(n) for n in counts])
    ax.set_xlabel("client processes sharing the reply topics")
    ax.set_ylabel("work CPU per call of one client (µs)")
    # From zero, so a ratio reads as a ratio; room above for the legend.
    ax.set_ylim(0, top * 1.3 if top > 0 else None)
    ax.grid(True, alpha=0.3)
    ax.legend()


CURVE = Curve(
    name="clients",
    title="Clients sharing reply topics: CPU per call of one client",
    measure=measure,
    format=format_table,
    targets=targets,
    plot=plot,
)
