"""The four Grafana dashboards of the queue system, built in code.

``all_dashboards()`` returns them as Grafana JSON models keyed by their stable uid;
``python -m monitoring.dashboards export`` writes them (and the Grafana provisioning files)
to disk, and ``python -m monitoring.grafana provision`` pushes them through the HTTP API.
The exported ``*.json`` files next to this module are generated: edit the code, then export.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from . import center, province, quality, staff
from ._model import DATASOURCE_NAME, DATASOURCE_UID, FOLDER_TITLE, FOLDER_UID, JSON

__all__ = [
    "DATASOURCE_NAME",
    "DATASOURCE_UID",
    "FOLDER_TITLE",
    "FOLDER_UID",
    "all_dashboards",
    "all_promql_expressions",
    "expand_variables",
]

_BUILDERS: tuple[Callable[[], JSON], ...] = (
    province.build,
    center.build,
    staff.build,
    quality.build,
)


def all_dashboards() -> dict[str, JSON]:
    """Every dashboard, keyed by its uid, in menu order (a fresh copy on each call)."""
    built = (build() for build in _BUILDERS)
    return {board["uid"]: board for board in built}


def all_promql_expressions() -> list[str]:
    """Every PromQL ``expr`` of every panel, once each, in dashboard and panel order.

    They still hold Grafana's variables (``$center``, ``$staff``, ``$__range``); pass them
    through :func:`expand_variables` before sending them to Prometheus itself. The template
    variables' ``label_values(...)`` queries are Grafana syntax, not PromQL, and are left out.
    """
    seen: dict[str, None] = {}
    for board in all_dashboards().values():
        for panel in board["panels"]:
            for target in panel["targets"]:
                seen.setdefault(target["expr"], None)
    return list(seen)


_VARIABLE = re.compile(r"\$(__rate_interval|__interval|__range|center|staff)\b")


def expand_variables(
    expr: str,
    *,
    center: str = ".*",
    staff: str = ".*",
    range_: str = "1h",
    interval: str = "1m",
) -> str:
    """Replace Grafana's variables in ``expr`` as Grafana would, giving plain PromQL.

    ``center`` and ``staff`` are regular expressions (the dashboards match with ``=~``);
    ``range_`` stands for ``$__range`` and ``interval`` for ``$__interval`` and
    ``$__rate_interval``.
    """
    values = {
        "center": center,
        "staff": staff,
        "__range": range_,
        "__interval": interval,
        "__rate_interval": interval,
    }
    return _VARIABLE.sub(lambda match: values[match.group(1)], expr)
