"""Identity resolution: connected components over the identifier graph, computed in the warehouse.

The graph's nodes are identifiers written `type:value` (user_pseudo_id, user_id, email, crm_contact_id); its
edges are evidence (c360/sql/identity/int__identity_evidence.sql). Everything heavy is SQL that runs as it is
on BigQuery; Python only drives the label-propagation loop and never reads the graph itself.

The identity layer, in build order (`models.plan('identity')`):

    int__identity_candidate_edges     SQL  every link a source asserts, with why it would be excluded
    int__identity_evidence            SQL  the kept ones: the graph's edges (drops audited)
    int__identity_anchor_components   py   components of the non-device edges (product + CRM)
    int__identity_device_anchors      SQL  each device edge with the anchor it points to; shared devices
    int__identity_device_links        SQL  device edges that survive the shared-device guard (drops audited)
    int__identity_components_pass1    py   components of anchor edges + device links
    int__identity_graph_edges         SQL  devices of over-cap components keep their best link (drops audited)
    int__identity_components_pass2    py   components of the graph edges
    int__identity_components          SQL  final node -> component; still over the cap: split per CRM contact
    int__identity_customers           SQL  one row per customer, with its deterministic customer_id
    int__identity_device_bridged      SQL  identifier -> customer, with the evidence that links it
    int__identity_resolved            SQL  user_pseudo_id -> customer
    int__identity_guard_hits          SQL  one row per guard hit

Each Python step also records its iteration count in `int__identity_cc_iterations`.
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from c360.dag.project import python_model
from c360.warehouse.base import check_identifier

ITERATIONS_TABLE = "int__identity_cc_iterations"


class NotConvergedError(RuntimeError):
    """Label propagation still changed labels after max_iterations rounds."""


def _round_sql(edges: str, labels: str) -> str:
    # One round: every node takes the smallest label around it (its own included: each node has a self
    # edge); its old label ("parent") takes the smallest label its children found (hooking); then every
    # node jumps to its new label's label (pointer jumping). Each step only takes minima over labels of
    # nodes of the same component, so labels only decrease and never leave the component.
    return f"""
WITH neighbours AS (
    SELECT e.src AS node, MIN(l.label) AS label
    FROM {edges} AS e
    JOIN {labels} AS l ON l.node = e.dst
    GROUP BY e.src
),

hooks AS (
    SELECT old.label AS node, MIN(n.label) AS label
    FROM {labels} AS old
    JOIN neighbours AS n ON n.node = old.node
    GROUP BY old.label
),

hooked AS (
    SELECT n.node, LEAST(n.label, COALESCE(h.label, n.label)) AS label
    FROM neighbours AS n
    LEFT JOIN hooks AS h ON h.node = n.node
)

SELECT a.node, LEAST(a.label, b.label) AS label
FROM hooked AS a
JOIN hooked AS b ON b.node = a.label
"""


def _working_table(engine, name: str, select_sql: str, params: dict[str, Any] | None = None) -> None:
    """(Re)build one of connected_components' working tables: a table only this connection needs
    (engine.temp_table; on DuckDB never compressed into the warehouse file)."""
    engine.temp_table(name, select_sql, params)


def numbered_sql(nodes_sql: str) -> str:
    """The distinct STRING `node`s of `nodes_sql`, each with `id`: its rank in node order (1, 2, ...), the
    ROW_NUMBER() OVER (ORDER BY node) it equals, without sorting every node in one partition (one worker, on
    BigQuery). Nodes are split into buckets by their prefix (the type and two characters of the value): a smaller
    prefix means a smaller node, so a node's rank is the nodes of the smaller buckets (a running sum over the
    bucket counts, a few thousand rows) plus its rank inside its bucket (a window partitioned by bucket)."""
    return f"""
WITH named AS (
    SELECT node, SUBSTR(node, 1, STRPOS(node, ':') + 2) AS bucket
    FROM (
{nodes_sql}
    ) AS listed
),

buckets AS (
    SELECT bucket, COUNT(*) AS nodes FROM named GROUP BY bucket
),

firsts AS (
    SELECT bucket, CAST(SUM(nodes) OVER (ORDER BY bucket) - nodes AS INT64) AS before
    FROM buckets
)

SELECT n.node, CAST(f.before + ROW_NUMBER() OVER (PARTITION BY n.bucket ORDER BY n.node) AS INT64) AS id
FROM named AS n
JOIN firsts AS f ON f.bucket = n.bucket
"""


def connected_components(engine, edges_sql: str, out_table: str, params: dict[str, Any] | None = None,
                         max_iterations: int = 100) -> int:
    """Connected components of an undirected graph, in the warehouse: min-label propagation with hooking
    and pointer jumping, driven from Python until no label changes.

    Convergence: a round only replaces labels by minima of same-component ids including the old label, so labels
    never rise and must stop changing; then both ends of every edge agree, and the smallest node m keeps label m.

    Args:
        engine: the warehouse (c360.warehouse.base.Engine).
        edges_sql: a BigQuery SELECT with columns node_a, node_b (STRING node ids, `type:value`). A row
            with one NULL end still makes its other end a node; a self edge (a, a) makes an isolated node.
        out_table: the table written (atomically, engine.replace_table): one row per node, columns
            `node` and `component` (the smallest node id of its component).
        params: values for the `@name` parameters edges_sql uses.
        max_iterations: rounds allowed before NotConvergedError.
    Returns:
        The number of rounds run (the last one is the round that changed nothing).
    """
    out = check_identifier(out_table)
    given, nodes, edges, labels, nxt = (check_identifier(f"_cc__{out}__{part}")
                                        for part in ("given", "nodes", "edges", "labels", "next"))
    body = edges_sql.strip().rstrip(";")
    try:
        # the rounds join integer ids, not `type:value` strings: ids are numbered in node order (numbered_sql),
        # so the smallest id of a component is its smallest node
        _working_table(engine, given, f"""
SELECT CAST(node_a AS STRING) AS node_a, CAST(node_b AS STRING) AS node_b
FROM (
{body}
) AS given
WHERE node_a IS NOT NULL OR node_b IS NOT NULL
""", params)
        _working_table(engine, nodes, numbered_sql(f"""
    SELECT node_a AS node FROM {given} WHERE node_a IS NOT NULL
    UNION DISTINCT
    SELECT node_b AS node FROM {given} WHERE node_b IS NOT NULL
"""))
        _working_table(engine, edges, f"""
WITH pairs AS (
    SELECT a.id AS id_a, b.id AS id_b
    FROM {given} AS g
    LEFT JOIN {nodes} AS a ON a.node = g.node_a
    LEFT JOIN {nodes} AS b ON b.node = g.node_b
)

SELECT DISTINCT src, dst
FROM (
    SELECT id_a AS src, id_b AS dst FROM pairs WHERE id_a IS NOT NULL AND id_b IS NOT NULL
    UNION ALL
    SELECT id_b AS src, id_a AS dst FROM pairs WHERE id_a IS NOT NULL AND id_b IS NOT NULL
    UNION ALL
    SELECT id AS src, id AS dst FROM {nodes}
) AS directed
""")
        _working_table(engine, labels, f"SELECT src AS node, MIN(dst) AS label FROM {edges} GROUP BY src")
        # the two label tables take turns: each round reads the last one and writes the other
        current, following = labels, nxt
        iterations = 0
        while True:
            if iterations >= max_iterations:
                raise NotConvergedError(f"{out}: labels still changing after {max_iterations} rounds")
            iterations += 1
            _working_table(engine, following, _round_sql(edges, current))
            changed = int(engine.query(
                f"SELECT COUNT(*) AS n FROM {following} AS nx JOIN {current} AS l ON l.node = nx.node "
                "WHERE nx.label != l.label")["n"].iloc[0])
            current, following = following, current
            if changed == 0:
                break
        engine.replace_table(out, f"""
SELECT n.node, c.node AS component
FROM {current} AS l
JOIN {nodes} AS n ON n.id = l.node
JOIN {nodes} AS c ON c.id = l.label
""")
        return iterations
    finally:
        for table in (given, nodes, edges, labels, nxt):
            engine.execute(f"DROP TABLE IF EXISTS {table}")


def _record_iterations(engine, table: str, iterations: int) -> None:
    engine.execute(f"CREATE TABLE IF NOT EXISTS {ITERATIONS_TABLE} (table_name STRING, iterations INT64, "
                   "nodes INT64, components INT64)")
    with engine.transaction():
        engine.execute(f"DELETE FROM {ITERATIONS_TABLE} WHERE table_name = @table_name", {"table_name": table})
        engine.execute(
            f"INSERT INTO {ITERATIONS_TABLE} SELECT @table_name, @iterations, COUNT(*), COUNT(DISTINCT component) "
            f"FROM {check_identifier(table)}", {"table_name": table, "iterations": iterations})


def _components_step(engine, table: str, edges_sql: str) -> int:
    iterations = connected_components(engine, edges_sql, table)  # a table name, as replace_table takes
    _record_iterations(engine, table, iterations)
    return iterations


@python_model("int__identity_anchor_components", "identity", refs=("int__identity_evidence",))
def build_anchor_components(engine, params: dict[str, Any]) -> None:
    """int__identity_anchor_components: components of the non-device evidence (product users, CRM contacts:
    user_id, email, crm_contact_id), computed before any device links them. A device pointing at two anchors
    that hold CRM contacts is a shared device (int__identity_device_anchors).
    grain: one row per node of a product or CRM edge; key node (unique); component = its smallest node id."""
    evidence = engine.relation("int__identity_evidence")
    _components_step(engine, "int__identity_anchor_components",
                     f"SELECT node_a, node_b FROM {evidence} WHERE edge_source IN ('product_user', 'crm_contact', 'crm_merge')")


def _pass1_edges_sql(engine) -> str:
    evidence = engine.relation("int__identity_evidence")
    links = engine.relation("int__identity_device_links")
    return (f"SELECT node_a, node_b FROM {evidence} WHERE edge_source IN ('product_user', 'crm_contact', 'crm_merge') "
            f"UNION ALL SELECT node_a, node_b FROM {links}")


@python_model("int__identity_components_pass1", "identity",
              refs=("int__identity_evidence", "int__identity_device_links"))
def build_components_pass1(engine, params: dict[str, Any]) -> None:
    """int__identity_components_pass1: components of the anchor edges and the device links that survived
    the shared-device guard, before the max_identifiers_per_customer guard.
    grain: one row per node; key node (unique); component = its smallest node id."""
    _components_step(engine, "int__identity_components_pass1", _pass1_edges_sql(engine))


def _pass1_rounds_if_same_graph(engine, edges_sql: str) -> int | None:
    """Pass 1's rounds when edges_sql has exactly pass 1's (node_a, node_b) pairs, else None. The components
    (and the rounds) depend only on that set of pairs, so such a graph's components are pass 1's."""
    pass1 = "int__identity_components_pass1"
    if not engine.has_table(ITERATIONS_TABLE):
        return None
    found = engine.query(f"SELECT iterations FROM {ITERATIONS_TABLE} WHERE table_name = @table_name",
                         {"table_name": pass1})
    if len(found) != 1:
        return None
    first = _pass1_edges_sql(engine)
    differ = int(engine.query(f"""
SELECT COUNT(*) AS n FROM (
    (SELECT node_a, node_b FROM ({first}) AS p EXCEPT DISTINCT SELECT node_a, node_b FROM ({edges_sql}) AS q)
    UNION ALL
    (SELECT node_a, node_b FROM ({edges_sql}) AS q EXCEPT DISTINCT SELECT node_a, node_b FROM ({first}) AS p)
) AS differing
""")["n"].iloc[0])
    return int(found["iterations"].iloc[0]) if differ == 0 else None


@python_model("int__identity_components_pass2", "identity",
              refs=("int__identity_graph_edges", "int__identity_components_pass1", "int__identity_evidence",
                    "int__identity_device_links"))
def build_components_pass2(engine, params: dict[str, Any]) -> None:
    """int__identity_components_pass2: components of int__identity_graph_edges (devices of over-cap
    components re-attached by their single best link). When the cap guard dropped no link, the graph is
    pass 1's and its components (and rounds) are copied from int__identity_components_pass1.
    grain: one row per node; key node (unique); component = its smallest node id."""
    table = "int__identity_components_pass2"
    edges_sql = f"SELECT node_a, node_b FROM {engine.relation('int__identity_graph_edges')}"
    rounds = _pass1_rounds_if_same_graph(engine, edges_sql)
    if rounds is None:
        _components_step(engine, table, edges_sql)
        return
    engine.replace_table(table, f"SELECT node, component FROM {engine.relation('int__identity_components_pass1')}")
    _record_iterations(engine, table, rounds)


def iterations(engine) -> pd.DataFrame:
    """Rounds each connected-components step took: table_name, iterations, nodes, components."""
    if not engine.has_table(ITERATIONS_TABLE):
        return pd.DataFrame(columns=["table_name", "iterations", "nodes", "components"])
    return engine.query(f"SELECT * FROM {ITERATIONS_TABLE} ORDER BY table_name")


def guard_summary(engine) -> pd.DataFrame:
    """Per guard: identifiers hit and evidence edges dropped (from int__identity_guard_hits)."""
    return engine.query(
        "SELECT guard, COUNT(*) AS identifiers, CAST(SUM(edges_dropped) AS INT64) AS edges_dropped "
        "FROM int__identity_guard_hits GROUP BY guard ORDER BY guard")


def consent_excluded(engine) -> dict[str, int]:
    """What consent excluded: candidate edges dropped as consent_denied, and the devices they came from."""
    row = engine.query(  # not COUNTIF: on DuckDB, COUNTIF over only NULL conditions is NULL (BigQuery: 0)
        "SELECT COALESCE(SUM(IF(exclusion_reason = 'consent_denied', 1, 0)), 0) AS edges, "
        "COUNT(DISTINCT IF(exclusion_reason = 'consent_denied', node_a, NULL)) AS devices "
        "FROM int__identity_candidate_edges").iloc[0]
    return {"edges": int(row["edges"]), "devices": int(row["devices"])}


def match_rates(engine) -> pd.DataFrame:
    """Share of devices and of sessions resolved to a customer, and of CRM customers seen on the web."""
    return engine.query("""
        WITH sessions AS (
            SELECT DISTINCT user_pseudo_id, ga_session_id FROM base__ga4__events WHERE user_pseudo_id IS NOT NULL
        ),
        resolved AS (SELECT user_pseudo_id FROM int__identity_resolved),
        crm_customers AS (SELECT customer_id FROM int__identity_customers WHERE crm_contact_id IS NOT NULL),
        seen AS (SELECT DISTINCT customer_id FROM int__identity_resolved)
        SELECT 'devices resolved to a customer' AS measure,
               (SELECT COUNT(*) FROM resolved) AS matched,
               (SELECT COUNT(DISTINCT user_pseudo_id) FROM sessions) AS total
        UNION ALL
        SELECT 'sessions resolved to a customer',
               (SELECT COUNT(*) FROM sessions WHERE user_pseudo_id IN (SELECT user_pseudo_id FROM resolved)),
               (SELECT COUNT(*) FROM sessions)
        UNION ALL
        SELECT 'CRM customers with web activity',
               (SELECT COUNT(*) FROM crm_customers WHERE customer_id IN (SELECT customer_id FROM seen)),
               (SELECT COUNT(*) FROM crm_customers)
    """).assign(share=lambda d: (d["matched"] / d["total"].where(d["total"] > 0)).round(3))
