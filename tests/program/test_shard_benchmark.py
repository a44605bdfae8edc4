"""The shard benchmark's split gives every tenant to exactly one stack (program tier, tiny size).

benchmarks/shard_benchmark.py runs 10,000 tenants across 10 stacks; its figures only mean
something while its stacks own disjoint parts of the list that cover all of it. Nothing here
is timed.
"""

from benchmarks import shard_benchmark
from pg_tenants.shards.fleet_check import check_stacks
from tests.support.shards import write_stack_file

TENANTS, SHARDS = 20, 4


def test_every_tenant_is_registered_by_exactly_one_stack(tenants_dir):
    shard_benchmark.write_fleet(tenants_dir, TENANTS, SHARDS)

    per_stack = {shard_benchmark.shard_name(s): shard_benchmark.tenant_names(shard_benchmark.run_shard(tenants_dir, s, deterministic=True))
                 for s in range(SHARDS)}  # fmt: skip

    expected = [str(t["name"]) for t in shard_benchmark.fleet(TENANTS, SHARDS)]
    assert shard_benchmark.ownership_problems(expected, per_stack) == []
    assert sum(len(names) for names in per_stack.values()) == TENANTS
    assert sorted(len(names) for names in per_stack.values()) == [TENANTS // SHARDS] * SHARDS


def test_validate_over_the_benchmarks_stack_files_finds_no_problem(tenants_dir):
    shard_benchmark.write_fleet(tenants_dir, TENANTS, SHARDS)
    paths = [write_stack_file(tenants_dir.parent, shard_benchmark.shard_name(s), shard_benchmark.shard_stack(tenants_dir, s))
             for s in range(SHARDS)]  # fmt: skip

    checked = check_stacks(paths, allow_empty=False)

    assert [p for p in checked.problems if p.is_error] == []
    assert checked.tenants == TENANTS


def test_the_ownership_check_reports_a_tenant_missing_or_registered_twice():
    problems = shard_benchmark.ownership_problems(["a", "b", "c"], {"shard-01": ["a", "b"], "shard-02": ["b"]})

    assert problems == ["tenant 'c' registered by no stack", "tenant 'b' registered by 2 stacks: shard-01, shard-02"]
