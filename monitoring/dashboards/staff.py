"""Staff productivity: served, service time, time use, pauses, recalls and ratings."""

from __future__ import annotations

from typing import Final

from ._model import (
    GOOD_HIGH,
    JSON,
    Panel,
    Query,
    center_variable,
    dashboard,
    query_variable,
)
from ._promql import CENTER, RANGE, STAFF, increase, mean, ratio, satisfied_share, total

UID: Final = "qms-staff-productivity"

_WHO: Final = "center, staff"
_M: Final = (CENTER, STAFF)

SERVED = increase("qms_staff_served_total", _WHO, RANGE, *_M)
MEAN_SERVICE = mean("qms_staff_service_seconds", _WHO, _WHO, RANGE, *_M)
RECALLS = increase("qms_staff_recalls_total", _WHO, RANGE, *_M)
NO_SHOWS = increase("qms_staff_no_shows_total", _WHO, RANGE, *_M)
TIME_BY_ACTIVITY = increase("qms_staff_time_seconds_total", f"{_WHO}, activity", RANGE, *_M)
SERVING_SHARE = ratio(
    total(
        increase(
            "qms_staff_time_seconds_total", f"{_WHO}, activity", RANGE, *_M, 'activity="serving"'
        ),
        _WHO,
    ),
    total(TIME_BY_ACTIVITY, _WHO),
)
SATISFIED = satisfied_share("qms_staff_ratings_total", _WHO, _WHO, RANGE, *_M)

_COLUMNS: Final = (
    ("Value #A", "Đã phục vụ / Served", "short"),
    ("Value #B", "Phục vụ TB / Mean service", "s"),
    ("Value #C", "Thời gian phục vụ / Serving share", "percentunit"),
    ("Value #D", "Gọi lại / Recalls", "short"),
    ("Value #E", "Vắng mặt / No-shows", "short"),
    ("Value #F", "Hài lòng / Satisfied", "percentunit"),
)


def _summary() -> Panel:
    exprs = (SERVED, MEAN_SERVICE, SERVING_SHARE, RECALLS, NO_SHOWS, SATISFIED)
    return Panel(
        "table",
        "Tổng hợp theo cán bộ / Per-staff summary",
        tuple(Query(expr, instant=True, table=True) for expr in exprs),
        description=(
            "Trong khoảng thời gian đã chọn (mặc định: hôm nay). "
            "/ Over the selected time range (default: today)."
        ),
        width=24,
        height=10,
        renames=(
            ("center", "Trung tâm / Center"),
            ("staff", "Cán bộ / Staff"),
            *((value, name) for value, name, _ in _COLUMNS),
        ),
        column_units=tuple((name, unit) for _, name, unit in _COLUMNS),
    )


def _per_staff() -> list[Panel]:
    return [
        Panel(
            "bargauge",
            "Đã phục vụ / Served",
            (Query(SERVED, "{{staff}}", instant=True),),
            width=8,
            height=10,
        ),
        Panel(
            "bargauge",
            "Thời gian phục vụ trung bình / Mean service time",
            (Query(MEAN_SERVICE, "{{staff}}", instant=True),),
            description="Tổng thời gian phục vụ chia số hồ sơ. / Histogram _sum over _count.",
            unit="s",
            width=8,
            height=10,
        ),
        Panel(
            "bargauge",
            "Tỷ lệ thời gian phục vụ / Share of time serving",
            (Query(SERVING_SHARE, "{{staff}}", instant=True),),
            description=(
                "Thời gian gọi hoặc phục vụ chia tổng thời gian quầy mở. "
                "/ Time calling or serving divided by all time at an open counter."
            ),
            unit="percentunit",
            width=8,
            height=10,
            thresholds=tuple(GOOD_HIGH),
            minimum=0,
            maximum=1,
        ),
        Panel(
            "bargauge",
            "Thời gian phục vụ, rảnh, tạm dừng / Time serving, idle, paused",
            (Query(TIME_BY_ACTIVITY, "{{staff}} · {{activity}}", instant=True),),
            description="serving = phục vụ, idle = rảnh, paused = tạm dừng.",
            unit="s",
            width=12,
            height=12,
        ),
        Panel(
            "bargauge",
            "Tạm dừng theo lý do / Paused by reason",
            (
                Query(
                    total(
                        increase("qms_staff_paused_seconds_total", f"{_WHO}, reason", RANGE, *_M),
                        "reason",
                    ),
                    "{{reason}}",
                    instant=True,
                ),
            ),
            unit="s",
            width=12,
            height=12,
        ),
    ]


def _calls_and_ratings() -> list[Panel]:
    return [
        Panel(
            "bargauge",
            "Gọi lại / Recalls",
            (Query(RECALLS, "{{staff}}", instant=True),),
            width=6,
            height=10,
        ),
        Panel(
            "bargauge",
            "Vắng mặt / No-shows",
            (Query(NO_SHOWS, "{{staff}}", instant=True),),
            width=6,
            height=10,
        ),
        Panel(
            "bargauge",
            "Đánh giá theo mức / Ratings by level",
            (
                Query(
                    total(
                        increase("qms_staff_ratings_total", f"{_WHO}, level", RANGE, *_M), "level"
                    ),
                    "Mức {{level}} / Level {{level}}",
                    instant=True,
                ),
            ),
            width=6,
            height=10,
        ),
        Panel(
            "bargauge",
            "Hài lòng (mức 4–5) / Satisfaction (levels 4–5)",
            (Query(SATISFIED, "{{staff}}", instant=True),),
            unit="percentunit",
            width=6,
            height=10,
            thresholds=tuple(GOOD_HIGH),
            minimum=0,
            maximum=1,
        ),
        Panel(
            "timeseries",
            "Đã phục vụ mỗi giờ / Served per hour",
            (Query(increase("qms_staff_served_total", _WHO, "1h", *_M), "{{staff}}"),),
            width=24,
            height=8,
        ),
    ]


def build() -> JSON:
    """The staff productivity dashboard (default range: today)."""
    staff = query_variable(
        "staff",
        "Cán bộ / Staff",
        'label_values(qms_staff_time_seconds_total{center=~"$center"}, staff)',
        multi=True,
    )
    return dashboard(
        uid=UID,
        title="QMS · Năng suất cán bộ / Staff productivity",
        description=(
            "Năng suất của cán bộ tại quầy trong khoảng thời gian đã chọn. "
            "/ Counter staff productivity over the selected range."
        ),
        panels=[_summary(), *_per_staff(), *_calls_and_ratings()],
        variables=[center_variable(multi=True), staff],
        time_from="now/d",
        refresh="1m",
    )
