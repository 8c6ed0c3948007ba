"""Entry points of the client and responder processes (spawned, so importable by name).

Each system is a module with ``run_client(spec, link) -> Samples`` and/or
``serve(spec, link) -> int``; these wrappers add the memory readings and turn
any crash into an ``("error", traceback)`` message instead of a silent hang.
"""

from __future__ import annotations

import contextlib
import importlib
import time
import traceback
from multiprocessing.connection import Connection

from benchmarks.memory import current_rss_mb, peak_rss_mb
from benchmarks.protocol import (
    ClientLink,
    ClientReport,
    ClientSpec,
    ResponderLink,
    ResponderReport,
    ResponderSpec,
)

__all__ = ["client_main", "responder_main"]


def _report_crash(conn: Connection) -> None:
    # The traceback travels to the harness, which prints it once with context;
    # re-raising here would only print it a second time from the child.
    with contextlib.suppress(OSError):  # the harness is gone; nobody is left to tell
        conn.send(("error", traceback.format_exc()))


def client_main(module_name: str, spec: ClientSpec, conn: Connection) -> None:
    try:
        module = importlib.import_module(module_name)
        base = current_rss_mb()
        samples = module.run_client(spec, ClientLink(conn))
        conn.send(("result", ClientReport(samples, base, peak_rss_mb())))
    except BaseException:
        _report_crash(conn)
    finally:
        conn.close()


def responder_main(module_name: str, spec: ResponderSpec, conn: Connection) -> None:
    # Time to ready counts the system's imports too: a user's process pays them.
    link = ResponderLink(conn, started=time.monotonic())
    try:
        module = importlib.import_module(module_name)
        handled = module.serve(spec, link)
        # The peak is at least what was read at ready (VmHWM can lag; benchmarks/memory.py).
        readings = [mb for mb in (peak_rss_mb(), link.ready_rss_mb) if mb is not None]
        peak = max(readings, default=None)
        report = ResponderReport(handled, peak, link.ready_s, link.ready_rss_mb)
        conn.send(("stopped", report))
    except BaseException:
        _report_crash(conn)
    finally:
        conn.close()
