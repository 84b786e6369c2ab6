"""Small builders for the Grafana dashboard JSON model (schemaVersion 39).

Only the fields these dashboards need are written; Grafana fills in the rest when it loads a
dashboard. Panels are laid out left to right in rows of 24 grid units, in the order given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

JSON = dict[str, Any]

SCHEMA_VERSION: Final = 39
GRID_WIDTH: Final = 24

DATASOURCE_UID: Final = "qms-prometheus"
DATASOURCE_NAME: Final = "QMS Prometheus"
FOLDER_UID: Final = "qms"
FOLDER_TITLE: Final = "QMS Quảng Ninh"
TIMEZONE: Final = "Asia/Ho_Chi_Minh"
TAG: Final = "qms"

DATASOURCE: Final[JSON] = {"type": "prometheus", "uid": DATASOURCE_UID}


def datasource_ref() -> JSON:
    """A fresh copy of the reference every panel, target and variable carries."""
    return dict(DATASOURCE)


@dataclass(frozen=True)
class Query:
    """One Prometheus query of a panel.

    ``legend`` is Grafana's legend format (``{{center}}``); ``instant`` asks for the value at
    the end of the time range only (stat, bar gauge and table panels); ``table`` returns the
    result as a table frame so that several queries can be merged into one table.
    """

    expr: str
    legend: str = ""
    instant: bool = False
    table: bool = False


def _target(ref_id: str, query: Query) -> JSON:
    return {
        "refId": ref_id,
        "datasource": datasource_ref(),
        "editorMode": "code",
        "expr": query.expr,
        "legendFormat": query.legend or "__auto",
        "instant": query.instant,
        "range": not query.instant,
        "format": "table" if query.table else "time_series",
    }


def _thresholds(steps: list[tuple[str, float | None]]) -> JSON:
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for c, v in steps]}


GOOD_LOW: Final = [("green", None), ("orange", 0.8), ("red", 1.0)]
"""Thresholds for a fraction of a target: fine below 80 %, red from 100 %."""

GOOD_HIGH: Final = [("red", None), ("orange", 0.7), ("green", 0.85)]
"""Thresholds for a share where more is better (satisfaction)."""

PLAIN: Final = [("green", None)]


@dataclass(frozen=True)
class Panel:
    """A panel before layout: kind, bilingual title, queries and display settings."""

    kind: str
    title: str
    queries: tuple[Query, ...]
    description: str = ""
    unit: str = "short"
    width: int = 12
    height: int = 8
    thresholds: tuple[tuple[str, float | None], ...] = tuple(PLAIN)
    minimum: float | None = None
    maximum: float | None = None
    time_from: str | None = None
    stacked: bool = False
    renames: tuple[tuple[str, str], ...] = ()
    column_units: tuple[tuple[str, str], ...] = ()

    def to_json(self, panel_id: int, x: int, y: int) -> JSON:
        """The panel's JSON at grid position (x, y)."""
        defaults: JSON = {
            "unit": self.unit,
            "color": {"mode": "thresholds" if self.kind != "timeseries" else "palette-classic"},
            "thresholds": _thresholds(list(self.thresholds)),
        }
        if self.minimum is not None:
            defaults["min"] = self.minimum
        if self.maximum is not None:
            defaults["max"] = self.maximum
        if self.kind == "timeseries":
            defaults["custom"] = {
                "drawStyle": "line",
                "lineWidth": 1,
                "fillOpacity": 20 if self.stacked else 0,
                "showPoints": "never",
                "spanNulls": False,
                "stacking": {"mode": "normal" if self.stacked else "none", "group": "A"},
            }
        body: JSON = {
            "id": panel_id,
            "type": self.kind,
            "title": self.title,
            "description": self.description,
            "datasource": datasource_ref(),
            "gridPos": {"x": x, "y": y, "w": self.width, "h": self.height},
            "targets": [_target(chr(ord("A") + i), q) for i, q in enumerate(self.queries)],
            "fieldConfig": {"defaults": defaults, "overrides": _unit_overrides(self.column_units)},
            "options": _options(self.kind),
        }
        if self.time_from is not None:
            body["timeFrom"] = self.time_from
            body["hideTimeOverride"] = False
        if self.kind == "table":
            body["transformations"] = _table_transformations(self.renames)
        return body


_REDUCE: Final[JSON] = {"calcs": ["lastNotNull"], "fields": "", "values": False}


def _options(kind: str) -> JSON:
    if kind == "timeseries":
        return {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    if kind == "stat":
        return {
            "reduceOptions": dict(_REDUCE),
            "colorMode": "value",
            "graphMode": "area",
            "justifyMode": "auto",
            "orientation": "auto",
            "textMode": "auto",
        }
    if kind == "bargauge":
        return {
            "reduceOptions": dict(_REDUCE),
            "displayMode": "gradient",
            "orientation": "horizontal",
            "showUnfilled": True,
            "valueMode": "color",
            "namePlacement": "auto",
            "sizing": "auto",
        }
    if kind == "table":
        return {"showHeader": True, "cellHeight": "sm", "footer": {"show": False}}
    raise ValueError(f"unknown panel kind {kind!r}; expected timeseries, stat, bargauge or table")


def _unit_overrides(column_units: tuple[tuple[str, str], ...]) -> list[JSON]:
    return [
        {
            "matcher": {"id": "byName", "options": column},
            "properties": [{"id": "unit", "value": unit}],
        }
        for column, unit in column_units
    ]


def _table_transformations(renames: tuple[tuple[str, str], ...]) -> list[JSON]:
    # Instant table queries come back one frame each; merge joins them on their labels.
    return [
        {"id": "merge", "options": {}},
        {
            "id": "organize",
            "options": {
                "excludeByName": {"Time": True, "job": True},
                "renameByName": dict(renames),
            },
        },
    ]


def query_variable(name: str, label: str, query: str, *, multi: bool) -> JSON:
    """A Prometheus query variable such as ``center`` from ``label_values(...)``."""
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": datasource_ref(),
        "definition": query,
        "query": {"qryType": 1, "query": query, "refId": "PrometheusVariableQueryEditor"},
        "refresh": 2,
        "sort": 1,
        "multi": multi,
        "includeAll": multi,
        "allValue": ".*" if multi else None,
        "current": {},
        "hide": 0,
        "options": [],
        "regex": "",
        "skipUrlSync": False,
    }


def center_variable(*, multi: bool) -> JSON:
    """The ``center`` variable every dashboard has."""
    return query_variable(
        "center", "Trung tâm / Center", "label_values(qms_queue_length, center)", multi=multi
    )


def _layout(panels: list[Panel]) -> list[JSON]:
    placed: list[JSON] = []
    x = y = row_height = 0
    for index, panel in enumerate(panels, start=1):
        if x + panel.width > GRID_WIDTH:
            x, y, row_height = 0, y + row_height, 0
        placed.append(panel.to_json(index, x, y))
        x += panel.width
        row_height = max(row_height, panel.height)
    return placed


def dashboard(
    *,
    uid: str,
    title: str,
    description: str,
    panels: list[Panel],
    variables: list[JSON],
    time_from: str = "now-6h",
    refresh: str = "1m",
) -> JSON:
    """A whole dashboard: stable ``uid``, panels laid out in order, ``id`` left to Grafana."""
    return {
        "id": None,
        "uid": uid,
        "title": title,
        "description": description,
        "tags": [TAG],
        "timezone": TIMEZONE,
        "schemaVersion": SCHEMA_VERSION,
        "editable": True,
        "graphTooltip": 1,
        "liveNow": False,
        "refresh": refresh,
        "time": {"from": time_from, "to": "now"},
        "timepicker": {},
        "fiscalYearStartMonth": 0,
        "weekStart": "monday",
        "annotations": {"list": []},
        "links": [
            {
                "type": "dashboards",
                "title": "QMS",
                "tags": [TAG],
                "asDropdown": True,
                "includeVars": True,
                "keepTime": True,
            }
        ],
        "templating": {"list": variables},
        "panels": _layout(panels),
    }
