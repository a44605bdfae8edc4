"""How the garbage collector runs during one program run (set where `__main__.py` starts).

A run builds a heap that only grows: every tenant adds a few thousand objects (resources,
Outputs, futures, protobuf messages) that live until the program exits, and almost none of
them become cyclic garbage. With Python's default thresholds (700, 10, 10) the collector
keeps rescanning that heap: 46% of a 5,000-tenant run (issue 11). Freezing what the imports
created takes it out of every collection; a young generation of 50,000 allocations and rarer
older collections keep the collector's share small, and it still runs, so the memory of
cycles that do become garbage (failed applies, closed event loops) is reclaimed.
Figures: README, "Sizing"; alternatives: `benchmarks/program_benchmark.py --gc-policy`.
"""

from __future__ import annotations

import gc

YOUNG_ALLOCATIONS = 50_000
OLDER_GENERATIONS = (20, 100)


def apply_gc_policy() -> None:
    gc.freeze()
    gc.set_threshold(YOUNG_ALLOCATIONS, *OLDER_GENERATIONS)
