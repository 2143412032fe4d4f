"""CSV and JSON Lines exports of query answers; every row starts with its provenance.

The first four columns of every row are ``block_number``, ``block_hash``, ``tx_hash`` and
``log_index``: where on the chain the event the row rests on can be checked by anyone
(``eth_getTransactionReceipt`` of the hash, the log at that index, in the block of that hash).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TextIO

PROVENANCE = ("block_number", "block_hash", "tx_hash", "log_index")
FORMATS = ("table", "csv", "jsonl", "json")


class Exportable(Protocol):
    def row(self) -> dict[str, Any]: ...


def rows_of(items: Iterable[Exportable | Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each item's row, provenance columns first (they must be present)."""
    out = []
    for item in items:
        row = dict(item) if isinstance(item, Mapping) else item.row()
        missing = [c for c in PROVENANCE if c not in row]
        if missing:
            raise ValueError(f"an export row lacks its provenance columns {missing}")
        out.append({**{c: row[c] for c in PROVENANCE}, **{k: v for k, v in row.items() if k not in PROVENANCE}})
    return out


def _columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    columns: list[str] = list(PROVENANCE)
    for row in rows:
        columns += [k for k in row if k not in columns]
    return columns


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def write_csv(items: Iterable[Exportable | Mapping[str, Any]], out: TextIO) -> int:
    rows = rows_of(items)
    writer = csv.DictWriter(out, fieldnames=_columns(rows), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return len(rows)


def write_jsonl(items: Iterable[Exportable | Mapping[str, Any]], out: TextIO) -> int:
    rows = rows_of(items)
    for row in rows:
        out.write(json.dumps(row, sort_keys=False) + "\n")
    return len(rows)


def write_json(items: Iterable[Exportable | Mapping[str, Any]], out: TextIO) -> int:
    rows = rows_of(items)
    out.write(json.dumps(rows, indent=2) + "\n")
    return len(rows)


def render_table(
    items: Iterable[Exportable | Mapping[str, Any]], columns: Sequence[str] | None = None, provenance: bool = False
) -> str:
    """A plain-text table for people; `columns` picks and orders the columns (provenance: the tx and block too)."""
    rows = rows_of(items)
    if not rows:
        return "(none)"
    chosen = list(columns) if columns else [c for c in _columns(rows) if c not in PROVENANCE]
    if provenance:
        chosen = [*chosen, "block_number", "tx_hash"]
    text_rows = [[str(_cell(row.get(c, ""))) for c in chosen] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in text_rows)) for i, c in enumerate(chosen)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(chosen, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in text_rows]
    return "\n".join(lines)


def export(items: Iterable[Exportable | Mapping[str, Any]], fmt: str, out: TextIO | Path | None = None) -> str:
    """Write `items` as `fmt` (csv, jsonl, json, table) to `out` (a path or stream); returns the text."""
    writers = {"csv": write_csv, "jsonl": write_jsonl, "json": write_json}
    if fmt not in (*writers, "table"):
        raise ValueError(f"unknown export format {fmt!r}: one of {', '.join(FORMATS)}")
    buffer = io.StringIO()
    if fmt == "table":
        buffer.write(render_table(items) + "\n")
    else:
        writers[fmt](items, buffer)
    text = buffer.getvalue()
    if isinstance(out, Path):
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    elif out is not None:
        out.write(text)
    return text
