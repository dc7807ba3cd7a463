"""The identity graph's node numbering (c360.steps.identity.numbered_sql): the rank of each node in node order,
computed per prefix bucket instead of one sort over every node, must be exactly the global rank (the components
are labelled by their smallest node through it)."""
from __future__ import annotations

import random

import duckdb

from c360.steps.identity import numbered_sql
from c360.warehouse import dialect


def _ranks(nodes: list[str]) -> dict[str, int]:
    con = duckdb.connect()
    con.execute("SET threads = 4")
    con.execute("CREATE TABLE t (node VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?)", [(n,) for n in nodes])
    found = con.execute(dialect.to_duckdb(numbered_sql("SELECT DISTINCT node FROM t"))).fetchall()
    con.close()
    return dict(found)


def test_ids_are_the_ranks_of_the_nodes_in_order_even_for_prefixes_and_unicode():
    # node ids of every shape: no value, one character, a prefix of another, no colon, two colons, accents,
    # a character outside the BMP; Python sorts by code point, as DuckDB and BigQuery order strings
    nodes = ["email:a", "email:ab", "email:", "e", ":", "", "email:\u00e9x", "email:\u00e9", "user_pseudo_id:1.1",
             "user_pseudo_id:12.3", "user_pseudo_id:1", "x:\U0001F600", "x:\uffff", "a:b:c", "a:b", "crm_contact_id:C1"]
    assert _ranks(nodes) == {n: i + 1 for i, n in enumerate(sorted(nodes))}


def test_ids_are_the_ranks_on_thousands_of_generated_nodes_with_four_threads():
    rng = random.Random(20)
    kinds = ["email", "user_id", "user_pseudo_id", "crm_contact_id"]
    letters = "ab1.9\u00e9Z"
    nodes = sorted({f"{rng.choice(kinds)}:{''.join(rng.choice(letters) for _ in range(rng.randint(0, 6)))}"
                    for _ in range(6000)})
    assert len(nodes) > 3000
    assert _ranks(nodes) == {n: i + 1 for i, n in enumerate(nodes)}
