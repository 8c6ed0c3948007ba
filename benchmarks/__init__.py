"""Side-by-side request/reply benchmarks for kafkarpc; see ``benchmarks.run`` for usage."""
