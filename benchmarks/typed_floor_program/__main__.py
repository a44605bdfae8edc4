"""The typed floor as a Pulumi program (benchmarks/typed_floor.py); run by the benchmark on the mock engine."""

import os

from benchmarks.typed_floor import COUNT_ENV, TABLE_ENV, declare_floor, load_table

declare_floor(load_table(os.environ[TABLE_ENV]), int(os.environ[COUNT_ENV]))
