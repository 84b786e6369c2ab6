"""A report, or a ticket's audit trail, as a text table, CSV or an Excel workbook (XLSX).

CSV carries machine names in its one header line (UTF-8, numbers with a decimal point, shares
from 0 to 1) so a spreadsheet or a script reads it the same way every time; the table and the
workbook carry two header lines, Vietnamese first and English under it, for people.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Sequence
from typing import Any

from queue_server.archive.report_query import MEASURES, SHARES
from queue_server.archive.reports import Report

DIMENSION_TITLES: dict[str, tuple[str, str]] = {
    "center": ("Mã TT", "Center"), "center_name": ("Trung tâm", "Center name"),
    "service": ("Mã DV", "Service"), "service_name": ("Dịch vụ", "Service name"),
    "counter": ("Quầy", "Counter"), "counter_name": ("Quầy", "Counter"),
    "staff": ("Cán bộ", "Staff"), "staff_name": ("Cán bộ", "Staff"),
    "channel": ("Kênh", "Channel"), "channel_name": ("Kênh", "Channel"),
    "priority": ("Ưu tiên", "Priority"), "priority_name": ("Ưu tiên", "Priority"),
    "day": ("Ngày", "Day"), "week": ("Tuần từ", "Week of"), "month": ("Tháng", "Month"),
    "quarter": ("Quý từ", "Quarter of"), "year": ("Năm", "Year"),
    "scope": ("Phạm vi", "Scope"),
}
MEASURE_TITLES = {name: (vi, en) for name, _, vi, en in MEASURES}
TOTAL = "Tổng / Total"


def _visible(report: Report) -> list[str]:
    """Columns people see: a dimension's name instead of its code where it has both (the
    center keeps its code too)."""
    columns: list[str] = []
    for column in report.columns():
        if column.endswith("_name") and column != "center_name":
            columns.remove(column.removesuffix("_name"))
        columns.append(column)
    return columns


def titles(column: str) -> tuple[str, str]:
    return DIMENSION_TITLES.get(column) or MEASURE_TITLES.get(column) or (column, column)


def _human(column: str, value: Any) -> str:
    if value is None:
        return "–"
    if column in SHARES:
        return f"{value * 100:.1f} %".replace(".", ",")
    if isinstance(value, float):
        return f"{value:.1f}".replace(".", ",") if column.endswith("_s") else \
            f"{value:.2f}".replace(".", ",")
    return str(value)


def _width(text: str) -> int:
    return sum(1 for ch in unicodedata.normalize("NFC", text) if not unicodedata.combining(ch))


def text_table(title: str, headers: Sequence[Sequence[str]],
               body: Sequence[Sequence[str]], footer: Sequence[Sequence[str]] = ()) -> str:
    """Aligned columns (text left in the first columns, numbers right), rules between parts."""
    grid = [*headers, *body, *footer]
    widths = [max(_width(line[i]) for line in grid) for i in range(len(headers[0]))]

    def line(cells: Sequence[str]) -> str:
        out = []
        for i, cell in enumerate(cells):
            pad = " " * (widths[i] - _width(cell))
            numeric = cell[:1].isdigit() or cell[:1] in "–-"
            out.append(pad + cell if numeric and i else cell + pad)
        return "  ".join(out).rstrip()

    rule = "  ".join("-" * w for w in widths)
    parts = [title, "", *(line(h) for h in headers), rule, *(line(b) for b in body)]
    if footer:
        parts += [rule, *(line(f) for f in footer)]
    return "\n".join(parts) + "\n"


def report_table(title: str, report: Report) -> str:
    columns = _visible(report)
    heads = [[titles(c)[0] for c in columns], [titles(c)[1] for c in columns]]
    body = [[_human(c, row.get(c)) for c in columns] for row in report.rows]
    width = len(columns) - len(MEASURES)
    total = [TOTAL if i == 0 else "" for i in range(width)] + [
        _human(c, report.total.get(c)) for c in columns[width:]]
    if width == 0:
        heads = [["", *h] for h in heads]
        body = []
        total = [TOTAL, *total]
    return text_table(title, heads, body, [total])


def report_csv(report: Report) -> str:
    """First column ``row``: ``group`` for each group, ``total`` for the last line."""
    out = io.StringIO()
    columns = report.columns()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["row", *columns])
    for kind, row in [*(("group", r) for r in report.rows), ("total", report.total)]:
        writer.writerow([kind, *("" if row.get(c) is None else row.get(c) for c in columns)])
    return out.getvalue()


def workbook_bytes(title: str, sheets: Sequence[tuple[str, Sequence[str],
                                                      Sequence[Sequence[Any]]]]) -> bytes:
    """An XLSX workbook: per sheet a title line, two header lines (vi, en), the rows."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    for name, columns, rows in sheets:
        sheet = book.create_sheet(name[:31])
        sheet.append([title])
        sheet["A1"].font = Font(bold=True, size=13)
        sheet.append([titles(c)[0] for c in columns])
        sheet.append([titles(c)[1] for c in columns])
        for cell in (*sheet[2], *sheet[3]):
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append(list(row))
        for index, column in enumerate(columns, start=1):
            letter = sheet.cell(row=2, column=index).column_letter
            if column in SHARES:
                for (cell,) in sheet.iter_rows(min_row=4, min_col=index, max_col=index):
                    cell.number_format = "0.0%"
            width = max(len(str(titles(column)[0])), len(str(titles(column)[1])), 8)
            sheet.column_dimensions[letter].width = min(width + 2, 40)
        sheet.freeze_panes = "A4"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def report_xlsx(title: str, report: Report) -> bytes:
    columns = report.columns()
    rows = [[row.get(c) for c in columns] for row in report.rows]
    width = len(columns) - len(MEASURES)
    rows.append([TOTAL if i == 0 else None for i in range(width)]
                + [report.total.get(c) for c in columns[width:]])
    if width == 0:
        columns = ["scope", *columns]
        rows = [[TOTAL, *rows[-1]]]
    return workbook_bytes(title, [("Báo cáo - Report", columns, rows)])
