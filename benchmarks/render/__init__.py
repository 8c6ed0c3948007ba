"""Markdown rendered from the benchmark's JSON, for docs/benchmarks.md and README.md.

Every number those pages quote comes from a JSON file under ``benchmarks/results/``:
the current run (``bench-*.json``, written by ``kafkarpc bench``) and the history
(``history.json``: earlier runs, what each optimization bought, import time). The
functions here are pure: a JSON dict in, markdown out. ``python -m benchmarks.docs``
writes their output between the pages' ``<!-- bench:NAME -->`` markers.
"""
