"""What every report shows: where its numbers came from (header), and tables a reader can check (tables, PII
masked); charts are in c360.report.plots."""
from __future__ import annotations

import pandas as pd

from c360.report.header import header, header_html, header_text, stage_params  # noqa: F401
from c360.report.tables import decimal_text, job_costs, show, show_checks, show_costs  # noqa: F401

# Reports show whole tables: the text form (what nbval compares) must not elide rows or wrap columns.
pd.set_option("display.max_rows", 500)
pd.set_option("display.max_columns", 60)
pd.set_option("display.width", 250)
pd.set_option("display.max_colwidth", 80)
