"""Imported by a kernel as it starts (c360.run.kernels): the libraries every notebook loads, so the import cost
is paid while the previous notebook runs. Importing it binds nothing in the notebook's namespace."""
import matplotlib.pyplot  # noqa: F401
import pandas  # noqa: F401

import c360.dag.datatests  # noqa: F401
import c360.models  # noqa: F401  (the dag, the steps, the sources and the warehouse)
import c360.report  # noqa: F401
import c360.report.plots  # noqa: F401
