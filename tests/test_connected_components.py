"""The warehouse connected components (SQL label propagation) against a Python union-find, on random graphs."""
from __future__ import annotations

import random

import pandas as pd
import pytest

from c360 import warehouse as engines
from c360.steps.identity import NotConvergedError, connected_components

SEEDS = range(30)


@pytest.fixture
def eng(tmp_path):
    e = engines.DuckDBEngine(tmp_path / "cc.duckdb")
    yield e
    e.con.close()


def union_find_partition(edges: list[tuple[str | None, str | None]]) -> dict[str, str]:
    """The oracle: node -> smallest node of its component, by union-find."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        for n in (a, b):
            if n is not None:
                parent.setdefault(n, n)
        if a is not None and b is not None:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)  # the root stays the smallest node of its set
    return {n: find(n) for n in parent}


def random_graph(seed: int) -> list[tuple[str | None, str | None]]:
    """Up to a few hundred nodes with shuffled ids, cut into pieces of random shapes: long chains, stars,
    isolated pairs, dense random clusters, self edges and rows with one NULL end (isolated nodes); some
    edges repeated or reversed, and the rows shuffled."""
    rng = random.Random(seed)
    n = rng.randint(2, 400)
    types = ["user_pseudo_id", "user_id", "email", "crm_contact_id"]
    ids = [f"{rng.choice(types)}:{rng.randrange(10**6):06d}-{i}" for i in range(n)]
    rng.shuffle(ids)
    edges: list[tuple[str | None, str | None]] = []
    i = 0
    while i < n:
        shape = rng.choice(["chain", "chain", "star", "pair", "random", "single", "null_end"])
        size = {"chain": rng.randint(2, 200), "star": rng.randint(2, 80), "pair": 2,
                "random": rng.randint(2, 80), "single": 1, "null_end": 1}[shape]
        nodes, i = ids[i:i + size], i + size
        if shape in ("chain", "pair") and len(nodes) > 1:
            edges += list(zip(nodes, nodes[1:]))
        elif shape == "star" and len(nodes) > 1:
            edges += [(nodes[0], x) if rng.random() < 0.5 else (x, nodes[0]) for x in nodes[1:]]
        elif shape == "random" and len(nodes) > 1:
            edges += [(rng.choice(nodes), rng.choice(nodes)) for _ in range(rng.randint(1, 2 * len(nodes)))]
            edges += [(x, x) for x in nodes]  # every node of the cluster present, linked or not
        elif shape == "null_end":
            edges += [(x, None) if rng.random() < 0.5 else (None, x) for x in nodes]
        else:
            edges += [(x, x) for x in nodes]
    edges += [(b, a) for a, b in rng.sample(edges, k=len(edges) // 10)]  # repeated, reversed
    rng.shuffle(edges)
    return edges


def _load(eng, edges) -> None:
    frame = pd.DataFrame(edges, columns=["node_a", "node_b"], dtype="object")
    eng.con.register("edges_frame", frame)
    eng.native("CREATE OR REPLACE TABLE edges AS SELECT CAST(node_a AS VARCHAR) AS node_a, "
               "CAST(node_b AS VARCHAR) AS node_b FROM edges_frame")
    eng.con.unregister("edges_frame")


def _partition(eng, table: str) -> dict[str, str]:
    return dict(eng.query(f"SELECT node, component FROM {table}").values.tolist())


@pytest.mark.parametrize("seed", SEEDS)
def test_sql_components_equal_union_find_on_random_graphs(eng, seed):
    edges = random_graph(seed)
    _load(eng, edges)
    rounds = connected_components(eng, "SELECT node_a, node_b FROM edges", "components")
    assert _partition(eng, "components") == union_find_partition(edges)
    print(f"seed {seed}: {len({n for e in edges for n in e if n})} nodes, {len(edges)} edges, {rounds} rounds")
    assert rounds <= 12


@pytest.mark.parametrize("order", ["ascending", "descending", "alternating", "shuffled"])
def test_a_long_chain_converges_in_few_rounds_whatever_the_id_order(eng, order):
    n = 3000
    ids = [f"n{i:05d}" for i in range(n)]
    if order == "descending":
        ids.reverse()
    elif order == "alternating":
        ids = [ids[i // 2] if i % 2 == 0 else ids[n - 1 - i // 2] for i in range(n)]
    elif order == "shuffled":
        random.Random(7).shuffle(ids)
    edges = list(zip(ids, ids[1:]))
    _load(eng, edges)
    rounds = connected_components(eng, "SELECT node_a, node_b FROM edges", "components")
    assert set(_partition(eng, "components").values()) == {"n00000"}
    print(f"chain of {n}, {order}: {rounds} rounds")
    assert rounds <= 20  # pointer jumping: logarithmic, not the chain's length


def test_edges_sql_takes_query_parameters_and_null_ends_make_isolated_nodes(eng):
    _load(eng, [("b", "a"), ("c", None), (None, "d"), ("e", "e"), ("x", "y")])
    connected_components(eng, "SELECT node_a, node_b FROM edges WHERE node_a IS NULL OR node_a != @skip",
                         "components", {"skip": "x"})
    assert _partition(eng, "components") == {"a": "a", "b": "a", "c": "c", "d": "d", "e": "e"}


def test_no_working_tables_are_left_behind_and_the_output_is_replaced(eng):
    _load(eng, [("a", "b")])
    connected_components(eng, "SELECT node_a, node_b FROM edges", "components")
    _load(eng, [("c", "d")])
    connected_components(eng, "SELECT node_a, node_b FROM edges;", "components")
    assert _partition(eng, "components") == {"c": "c", "d": "c"}
    assert sorted(eng.tables()) == ["components", "edges"]


def test_an_empty_graph_gives_an_empty_table(eng):
    _load(eng, [])
    assert connected_components(eng, "SELECT node_a, node_b FROM edges", "components") == 1
    assert eng.row_count("components") == 0


def test_too_few_rounds_is_an_error_and_keeps_the_old_output(eng):
    _load(eng, [("a", "b")])
    connected_components(eng, "SELECT node_a, node_b FROM edges", "components")
    ids = [f"n{i:04d}" for i in range(1000)]
    _load(eng, list(zip(ids, ids[1:])))
    with pytest.raises(NotConvergedError, match="components: labels still changing after 1 rounds"):
        connected_components(eng, "SELECT node_a, node_b FROM edges", "components", max_iterations=1)
    assert _partition(eng, "components") == {"a": "a", "b": "a"}
    assert sorted(eng.tables()) == ["components", "edges"]
