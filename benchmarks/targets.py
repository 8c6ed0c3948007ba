"""Issue 15's targets for the request/reply levels, judged from the results alone.

Pure: a committed JSON can be judged again (``judge_levels`` reads only what
``LevelResult`` records). The curves judge their own targets (benchmarks/curves/).
Where a load was measured in several interleaved rounds, each figure is the
median over the rounds, so one lucky or unlucky round decides nothing.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence

from benchmarks.curves.base import Target
from benchmarks.stats import LevelResult

__all__ = ["format_targets", "judge_levels", "median_at"]

SUBJECT = "kafkarpc"


def median_at(
    results: Sequence[LevelResult],
    system: str,
    load: int,
    value: Callable[[LevelResult], float | None],
) -> float | None:
    """The median of ``value`` over the rounds of ``system`` at ``load``; None if never measured."""
    values = [
        v
        for r in results
        if r.system == system and r.load == load and not r.failure and (v := value(r)) is not None
    ]
    return statistics.median(values) if values else None


def _ratio_target(
    name: str,
    goal: str,
    mine: float | None,
    theirs: float | None,
    unit: str,
    passes: Callable[[float], bool],
) -> Target:
    if mine is None or not theirs:
        return Target(name, goal, "not measured in this run", None)
    ratio = mine / theirs
    measured = f"{mine:,.1f} / {theirs:,.1f} {unit} = {ratio:.2f}x"
    return Target(name, goal, measured, passes(ratio))


def _with_floor(target: Target, own_us: float | None, raw_us: float | None) -> Target:
    """Adds what the library's own Python costs next to the raw loop's whole process.

    kafkarpc does what the raw loop does (produce, fetch, JSON) plus its own work; that
    work alone, measured without a broker (benchmarks/hotpath.py), bounds the ratio
    from below at about ``1 + own / raw``.
    """
    if own_us is None or not raw_us:
        return target
    floor = 1 + own_us / raw_us
    note = f"; kafkarpc's own Python alone {own_us:.1f} us (floor ~{floor:.2f}x)"
    return Target(target.name, target.goal, target.measured + note, target.met)


def _with_ceiling(target: Target, raw_total_us: float | None, own_us: float | None) -> Target:
    """Adds the ratio CPU allows once every process shares the cores.

    Under load the three processes are bound by CPU summed over them, and kafkarpc
    spends at least the raw loop's total plus its own Python, so its throughput
    can reach about ``raw_total / (raw_total + own)`` of the raw loop's.
    """
    if raw_total_us is None or own_us is None or raw_total_us <= 0:
        return target
    bound = raw_total_us / (raw_total_us + own_us)
    note = (
        f"; CPU bound: raw's {raw_total_us:.0f} us per request + kafkarpc's own "
        f"{own_us:.0f} us -> at most ~{bound:.2f}x"
    )
    return Target(target.name, target.goal, target.measured + note, target.met)


def _sum_or_none(*values: float | None) -> float | None:
    return None if any(v is None for v in values) else sum(v for v in values if v is not None)


def _client_cpu(r: LevelResult) -> float | None:
    return r.cpu.client_us


def _responder_cpu(r: LevelResult) -> float | None:
    return r.cpu.responder_us


def _total_cpu(r: LevelResult) -> float | None:
    return _sum_or_none(r.cpu.client_us, r.cpu.responder_us, r.cpu.broker_us)


def judge_levels(
    results: Sequence[LevelResult],
    rounds_load: int = 256,
    library_cpu: dict[str, float] | None = None,
) -> list[Target]:
    """Latency, throughput, CPU and no-collapse targets of the request/reply levels.

    ``library_cpu``: kafkarpc's own CPU per request without a broker
    (``{"client_us": ..., "responder_us": ...}``), shown beside the CPU targets.
    """
    own = library_cpu or {}

    def compare(
        name: str,
        goal: str,
        value: Callable[[LevelResult], float | None],
        unit: str,
        passes: Callable[[float], bool],
        mine: tuple[str, int],
        theirs: tuple[str, int],
    ) -> Target:
        return _ratio_target(
            name,
            goal,
            median_at(results, *mine, value),
            median_at(results, *theirs, value),
            unit,
            passes,
        )

    rounds = max((r.round for r in results if r.load == rounds_load), default=1)
    median_note = f" (median of {rounds} rounds)" if rounds > 1 else ""
    load = rounds_load
    subject, raw, handrolled = (SUBJECT, load), ("raw", load), ("handrolled", load)

    def rps(r: LevelResult) -> float | None:
        return r.throughput_rps

    def p95(r: LevelResult) -> float | None:
        return r.p95_ms

    def broker(r: LevelResult) -> float | None:
        return r.cpu.broker_us

    versus_raw = compare(
        f"throughput at {load} in flight vs raw{median_note}",
        ">= 1.0x raw", rps, "req/s", lambda x: x >= 1.0, subject, raw
    )  # fmt: skip
    cpu_targets = [
        _with_floor(
            compare(
                f"{side} CPU per request at {load}{median_note}",
                "<= 1.2x raw",
                value,
                "us",
                lambda x: x <= 1.2,
                subject,
                raw,
            ),
            own.get(f"{side}_us"),
            median_at(results, "raw", load, value),
        )
        for side, value in (("client", _client_cpu), ("responder", _responder_cpu))
    ]
    return [
        compare(
            "latency: p95 at 1 in flight",
            "<= 1.15x raw",
            p95,
            "ms",
            lambda x: x <= 1.15,
            (SUBJECT, 1),
            ("raw", 1),
        ),
        _with_ceiling(
            versus_raw,
            median_at(results, "raw", load, _total_cpu),
            _sum_or_none(own.get("client_us"), own.get("responder_us")),
        ),
        compare(
            f"throughput at {load} in flight vs hand-rolled{median_note}",
            ">= 1.5x handrolled",
            rps,
            "req/s",
            lambda x: x >= 1.5,
            subject,
            handrolled,
        ),
        *cpu_targets,
        compare(
            f"broker CPU per request at {load}{median_note}",
            "<= handrolled's",
            broker,
            "us",
            lambda x: x <= 1.0,
            subject,
            handrolled,
        ),
        compare(
            "no collapse: req/s at 1024 vs 256 in flight",
            ">= 1.0x",
            rps,
            "req/s",
            lambda x: x >= 1.0,
            (SUBJECT, 1024),
            subject,
        ),
    ]


def format_targets(targets: Sequence[Target]) -> str:
    verdict = {True: "met", False: "NOT MET", None: "not measured"}
    name_width = max([len(t.name) for t in targets] + [6])
    goal_width = max([len(t.goal) for t in targets] + [4])
    header = f"{'target':<{name_width}}  {'goal':<{goal_width}}  {'result':<12}  measured"
    lines = [header, "-" * len(header)]
    for t in targets:
        lines.append(
            f"{t.name:<{name_width}}  {t.goal:<{goal_width}}  {verdict[t.met]:<12}  {t.measured}"
        )
    met = sum(t.met is True for t in targets)
    lines.append(f"{met} of {len(targets)} targets met")
    return "\n".join(lines)
