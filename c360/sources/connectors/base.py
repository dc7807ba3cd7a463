"""What a CRM connector is: the Fivetran tables it reads and the SQL mapping them to the contract's CRM tables.
Declarations and checks only; the readers (c360.sources.files, c360.sources.bigquery) do the IO."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from c360.sources.contract import BIGQUERY_TYPES, BadInputError, CsvTable

# the contract's CRM tables a connector produces (source('crm', <name>)), in the order they are mapped
MAPPED = ("contacts", "deals", "form_submissions", "identity_evidence")


class ConnectorError(BadInputError):
    """A connector's input is missing a table or a column; the message names the connector, table and column."""


@dataclass(frozen=True)
class FivetranTable:
    """One table as Fivetran syncs it: its name, typed columns (DuckDB types, as the contract's), the columns that
    may be absent (read as NULL), the columns non-empty on every row, and whether the table may be absent (its
    rows: none)."""

    name: str
    columns: dict[str, str]
    keys: tuple[str, ...] = ()
    optional_columns: tuple[str, ...] = ()
    required: bool = True
    personal: bool = False  # holds values about people (masked in errors)

    def required_columns(self) -> list[str]:
        return [c for c in self.columns if c not in self.optional_columns]

    def csv(self, folder: str) -> CsvTable:
        """This table as the DuckDB loader reads a CSV of it: `<folder>/<name>.csv` into src__<folder>__<name>."""
        return CsvTable(f"{folder}/{self.name}.csv", f"src__{folder}__{self.name}", dict(self.columns), self.keys,
                        required_file=self.required, optional_columns=self.optional_columns, personal=self.personal)

    def empty_sql(self) -> str:
        """No rows, its columns (BigQuery SQL): the stand-in for an absent optional table."""
        cols = ", ".join(f"CAST(NULL AS {BIGQUERY_TYPES[t]}) AS {c}" for c, t in self.columns.items())
        return f"(SELECT {cols} LIMIT 0)"


# relation(table name) -> the SQL of that Fivetran table, every declared column present
Relation = Callable[[str], str]


@dataclass(frozen=True)
class Connector:
    """A CRM connector: its parameter value, the folder (DuckDB) its files are in, its tables (given the run's
    parameters: property names are parameters) and its mapping: relation -> {contract table: SELECT}."""

    name: str
    folder: str
    tables_of: Callable[[dict[str, Any]], tuple[FivetranTable, ...]]
    mapping: Callable[[Relation, dict[str, Any]], dict[str, str]]
    notes: dict[str, str] = field(default_factory=dict)

    def tables(self, params: dict[str, Any]) -> tuple[FivetranTable, ...]:
        return self.tables_of(params)

    def missing_table(self, table: FivetranTable, where: str) -> ConnectorError:
        return ConnectorError(f"crm_connector {self.name}: required table {table.name!r} not found ({where}). "
                              f"It needs the tables {', '.join(t.name for t in self.tables_of({}) if t.required)}"
                              " as Fivetran names them; see docs/connectors.md")

    def check_columns(self, table: FivetranTable, present: list[str], where: str) -> None:
        """Raise ConnectorError naming the connector, the table and each required column `present` lacks."""
        have = {c.lower() for c in present}
        missing = [c for c in table.required_columns() if c not in have]
        if missing:
            raise ConnectorError(
                f"crm_connector {self.name}: table {table.name!r} ({where}) is missing required column(s) "
                f"{', '.join(missing)} (has: {', '.join(present)}); see docs/connectors.md")


def one_row_per(table: str, key: str, columns: dict[str, str], order: str) -> str:
    """A SELECT of `columns` (name -> SQL expression over `table`) with one row per value of expression `key`: the
    first by `order` (a Fivetran table can hold a deleted row beside the live one, or a row twice)."""
    picked = ", ".join(f"{expression} AS {name}" for name, expression in columns.items())
    return (f"SELECT {', '.join(columns)} FROM (SELECT {picked}, ROW_NUMBER() OVER (PARTITION BY {key} "
            f"ORDER BY {order}) AS _row FROM {table}) AS ranked WHERE _row = 1")
