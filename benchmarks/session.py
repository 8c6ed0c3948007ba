"""One benchmark session: the broker, then every (load, system) level in turn."""

from __future__ import annotations

import contextlib
import dataclasses
import random
from collections.abc import Iterator, Sequence

from confluent_kafka import KafkaException

from benchmarks.config import BenchConfig
from benchmarks.kafka import BrokerInfo, TopicAdmin, fresh_topics
from benchmarks.level import run_level
from benchmarks.progress import Progress
from benchmarks.stats import LevelResult
from benchmarks.systems import SYSTEMS
from benchmarks.workload import Workload

__all__ = ["SetupError", "broker", "run_session"]


class SetupError(Exception):
    """The benchmark cannot start; the message says what to do."""


@contextlib.contextmanager
def broker(bootstrap: str | None) -> Iterator[BrokerInfo]:
    """The given broker, or an embedded Tansu for the duration of the session."""
    if bootstrap:
        yield BrokerInfo(bootstrap, None)
        return
    try:
        from kafkarpc._broker import start_broker
    except ImportError as exc:
        raise SetupError(
            "the embedded broker comes with kafkarpc: pip install -e '.[broker]' "
            "(or PYTHONPATH=src), or pass --bootstrap HOST:PORT"
        ) from exc
    try:
        embedded = start_broker()
    except Exception as exc:  # BrokerUnavailable or an OSError from the binary
        raise SetupError(f"could not start the embedded broker: {exc}") from exc
    try:
        yield BrokerInfo(embedded.bootstrap, embedded.process.pid)
    finally:
        embedded.stop()


def _workload(config: BenchConfig, load: int, level_seed: int) -> Workload:
    return Workload(
        load=load,
        warmup=config.warmup_for(load),
        measured=config.requests_for(load),
        seed=level_seed,
        payload_bytes=config.payload_bytes,
        timeout_s=config.timeout_s,
        deadline_s=config.level_timeout_s,
    )


def run_session(
    config: BenchConfig, systems: Sequence[str], broker_info: BrokerInfo
) -> list[LevelResult]:
    bootstrap = broker_info.bootstrap
    rng = random.Random(config.seed)
    progress = Progress(sum(config.rounds_at(load) for load in config.loads) * len(systems))
    admin = TopicAdmin(bootstrap)
    try:
        admin.check_reachable()
    except KafkaException as exc:
        raise SetupError(f"broker {bootstrap} is not reachable: {exc}") from exc
    results: list[LevelResult] = []
    for load in config.loads:
        for round_no in range(1, config.rounds_at(load) + 1):
            results.extend(
                _run_round(config, systems, broker_info, admin, progress, load, round_no, rng)
            )
    return results


def _run_round(
    config: BenchConfig,
    systems: Sequence[str],
    broker_info: BrokerInfo,
    admin: TopicAdmin,
    progress: Progress,
    load: int,
    round_no: int,
    rng: random.Random,
) -> list[LevelResult]:
    """Every system once at ``load``; rounds interleave systems so drift hits all alike."""
    bootstrap = broker_info.bootstrap
    results: list[LevelResult] = []
    # A seeded shuffle per round: no system always runs first on a cold
    # broker or last on a busy one, yet a rerun uses the same order.
    order = rng.sample(list(systems), k=len(systems))
    for name in order:
        # Every system sees the same payloads at a given load.
        workload = _workload(config, load, level_seed=config.seed * 1_000_003 + load)
        topics = fresh_topics(name, load, config.partitions)
        label = f"{name} load={load}" + (f" #{round_no}" if config.rounds_at(load) > 1 else "")
        progress.start_level(label, workload.measured)
        try:
            admin.create(topics)
        except (KafkaException, TimeoutError) as exc:
            raise SetupError(f"cannot create topics on {bootstrap}: {exc}") from exc
        try:
            extra = config.kafkarpc_config if name == "kafkarpc" else {}
            result = run_level(SYSTEMS[name], broker_info, topics, workload, progress, extra)
        finally:
            admin.delete(topics)
        results.append(dataclasses.replace(result, round=round_no))
        progress.finish_level(_one_line(result))
    return results


def _one_line(result: LevelResult) -> str:
    if result.failure:
        return f"FAILED after {result.wall_s:.1f}s (see below)"
    p50 = "-" if result.p50_ms is None else f"{result.p50_ms:.1f}"
    p99 = "-" if result.p99_ms is None else f"{result.p99_ms:.1f}"
    rps = "-" if result.throughput_rps is None else f"{result.throughput_rps:.0f}"
    return (
        f"p50 {p50} ms  p99 {p99} ms  {rps} req/s  {result.errors} errors  ({result.wall_s:.1f}s)"
    )
