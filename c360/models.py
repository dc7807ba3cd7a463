"""c360's models: the SQL files under c360/sql/<layer>/ and the Python steps of c360.steps, built by c360.dag.

What notebooks, the runner and the CLI build through; importing it registers the Python steps.
"""
from __future__ import annotations

from c360 import steps  # noqa: F401  (registers the Python steps: identity graph, channel models)
from c360.dag.materialize import AUDIT_TABLE, build, build_model, row_accounting  # noqa: F401
from c360.dag.project import LAYERS, Model, discover  # noqa: F401
from c360.dag.render import (  # noqa: F401
    compiled,
    config_of,
    dependencies,
    mermaid,
    plan,
    render,
    render_with_helpers,
    sources_of,
)
from c360.dag.state import fingerprint  # noqa: F401
from c360.sources.contract import TOUCHED_DATES  # noqa: F401
