"""``python -m simulations.derive``: a demand profile measured from the archive of real days.

The archive (PostgreSQL, ``QMS_DATABASE_URL``) is read by :func:`archive_rows`; until it is
wired, the command says so and exits 2. ``--rows FILE`` derives from tickets exported as JSON
lines (one ticket per line, the fields of :mod:`simulations.archive`) instead.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from queue_server.province import load_province
from simulations.archive import Row, derive_profile
from simulations.demand import DEFAULT_DEMAND_FILE, check_centers, load_demand
from simulations.errors import PlanningInputError
from simulations.inputs import refusing


def archive_rows(database_url: str, since: dt.date, until: dt.date) -> list[Row]:
    """Tickets of the working days ``since``..``until`` from the archive, as rows."""
    raise PlanningInputError(
        "QMS_DATABASE_URL", "archive",
        "reading tickets from the archive is not wired yet: export them as JSON lines and "
        "pass --rows FILE")


def read_rows(path: Path) -> list[Row]:
    rows: list[Row] = []
    try:
        with path.open(encoding="utf-8") as handle:
            for line_number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    row: Any = json.loads(line)
                except json.JSONDecodeError as error:
                    raise PlanningInputError(path, f"line {line_number}",
                                             f"not JSON: {error.msg}") from None
                if not isinstance(row, dict):
                    raise PlanningInputError(path, f"line {line_number}", "expected an object")
                rows.append(row)
    except OSError as error:
        raise PlanningInputError(path, "", f"cannot read the rows: {error}") from None
    return rows


@refusing
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simulations.derive",
        description="Đo hồ sơ nhu cầu từ kho lưu trữ / derive a demand profile from archived "
                    "tickets (needs QMS_DATABASE_URL, or --rows FILE of JSON lines).")
    parser.add_argument("--province", type=Path, metavar="FILE", help="province file")
    parser.add_argument("--base", type=Path, default=DEFAULT_DEMAND_FILE, metavar="FILE",
                        help="profile whose unmeasurable fields are kept (default: the "
                             "shipped one)")
    parser.add_argument("--since", type=dt.date.fromisoformat, metavar="YYYY-MM-DD")
    parser.add_argument("--until", type=dt.date.fromisoformat, metavar="YYYY-MM-DD")
    parser.add_argument("--rows", type=Path, metavar="FILE",
                        help="tickets as JSON lines instead of the archive")
    parser.add_argument("--out", type=Path, metavar="FILE", help="write the profile here "
                        "(default: standard output)")
    args = parser.parse_args(argv)
    province = load_province(args.province)
    base = check_centers(load_demand(args.base), province, [])
    if args.rows is not None:
        rows, source = read_rows(args.rows), str(args.rows)
    else:
        url = os.environ.get("QMS_DATABASE_URL", "")
        if not url:
            raise PlanningInputError("QMS_DATABASE_URL", "QMS_DATABASE_URL",
                                     "deriving a profile needs the archive: set it to the "
                                     "archive's PostgreSQL URL, or pass --rows FILE")
        until = args.until or dt.date.today()
        since = args.since or until - dt.timedelta(days=28)
        rows, source = archive_rows(url, since, until), "the archive"
    text = derive_profile(rows, province, base, source)
    if args.out is None:
        print(text, end="")
    else:
        args.out.write_text(text, encoding="utf-8")
        print(f"profile: {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
