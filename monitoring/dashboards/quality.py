"""Service quality: waits against targets, satisfaction, no-shows and cancellations."""

from __future__ import annotations

from typing import Final

from ._model import GOOD_HIGH, GOOD_LOW, JSON, Panel, Query, center_variable, dashboard
from ._promql import (
    CENTER,
    RANGE,
    TREND,
    gauge,
    increase,
    quantile,
    ratio,
    satisfied_share,
    total,
)

UID: Final = "qms-service-quality"

_PER_SERVICE: Final = "center, service"
_ISSUED_KEYS: Final = "center, service, channel, priority"

TARGET = gauge("qms_center_wait_target_seconds", "center", CENTER)


def _count(metric: str, by: str, window: str = RANGE) -> str:
    keys = _ISSUED_KEYS if metric == "qms_tickets_issued_total" else _PER_SERVICE
    return total(increase(metric, keys, window, CENTER), by)


def _no_show_rate(by: str, window: str = RANGE) -> str:
    return ratio(_count("qms_no_shows_total", by, window), _count("qms_calls_total", by, window))


def _cancel_rate(by: str, window: str = RANGE) -> str:
    return ratio(
        _count("qms_cancellations_total", by, window),
        _count("qms_tickets_issued_total", by, window),
    )


def _expired_rate(by: str, window: str = RANGE) -> str:
    """Tickets left when the day closed, among those issued: citizens never served."""
    return ratio(
        _count("qms_expirations_total", by, window),
        _count("qms_tickets_issued_total", by, window),
    )


def _wait(q: float, by: str, window: str = RANGE) -> str:
    return quantile(q, "qms_wait_seconds", _PER_SERVICE, by, window, CENTER)


def _satisfied(by: str) -> str:
    return satisfied_share("qms_ratings_total", _PER_SERVICE, by, RANGE, CENTER)


_RATE_LIMITS: Final = (("green", None), ("orange", 0.1), ("red", 0.2))


def _stat(
    title: str, expr: str, unit: str, thresholds: tuple[tuple[str, float | None], ...]
) -> Panel:
    return Panel(
        "stat",
        title,
        (Query(expr, instant=True),),
        unit=unit,
        width=4,
        height=4,
        thresholds=thresholds,
    )


def _stats() -> list[Panel]:
    plain: tuple[tuple[str, float | None], ...] = (("green", None),)
    return [
        _stat("Vé đã cấp / Tickets issued", _count("qms_tickets_issued_total", ""), "short", plain),
        _stat("Chờ p50 / Wait p50", _wait(0.5, ""), "s", plain),
        _stat("Chờ p90 / Wait p90", _wait(0.9, ""), "s", plain),
        _stat(
            "Hài lòng (mức 4–5) / Satisfied (4–5)",
            _satisfied(""),
            "percentunit",
            tuple(GOOD_HIGH),
        ),
        _stat("Tỷ lệ vắng mặt / No-show rate", _no_show_rate(""), "percentunit", _RATE_LIMITS),
        _stat("Tỷ lệ hủy / Cancellation rate", _cancel_rate(""), "percentunit", _RATE_LIMITS),
    ]


def _waits() -> list[Panel]:
    return [
        Panel(
            "timeseries",
            "Thời gian chờ p50, p90, p95 so với mục tiêu / Wait p50, p90, p95 vs target",
            (
                Query(_wait(0.5, "", TREND), "p50"),
                Query(_wait(0.9, "", TREND), "p90"),
                Query(_wait(0.95, "", TREND), "p95"),
                Query(f"avg({TARGET})", "Mục tiêu (trung bình) / Target (mean)"),
            ),
            description=(
                f"Các trung tâm đã chọn, cửa sổ trượt {TREND}. "
                f"/ Selected centers, rolling {TREND} window."
            ),
            unit="s",
            width=12,
            height=16,
        ),
        Panel(
            "bargauge",
            "Chờ p90 so với mục tiêu theo trung tâm / Wait p90 vs target per center",
            (Query(ratio(_wait(0.9, "center"), TARGET), "{{center}}", instant=True),),
            description=(
                "p90 thời gian chờ trong khoảng đã chọn chia cho mục tiêu; 100% là đúng mục "
                "tiêu. / Wait p90 over the selected range divided by the target; 100% is at "
                "target."
            ),
            unit="percentunit",
            width=12,
            height=16,
            thresholds=tuple(GOOD_LOW),
            minimum=0,
            maximum=2,
        ),
        Panel(
            "bargauge",
            "Chờ p90 theo dịch vụ / Wait p90 per service",
            (Query(_wait(0.9, "service"), "{{service}}", instant=True),),
            unit="s",
            width=8,
            height=10,
        ),
        Panel(
            "bargauge",
            "Phân bố mức hài lòng / Satisfaction distribution",
            (
                Query(
                    total(
                        increase("qms_ratings_total", f"{_PER_SERVICE}, level", RANGE, CENTER),
                        "level",
                    ),
                    "Mức {{level}} / Level {{level}}",
                    instant=True,
                ),
            ),
            width=8,
            height=10,
        ),
    ]


def _rates() -> list[Panel]:
    return [
        Panel(
            "timeseries",
            "Tỷ lệ vắng mặt, hủy và chưa được phục vụ khi hết ngày theo thời gian "
            "/ No-show, cancellation and end-of-day expiry rates over time",
            (
                Query(_no_show_rate("", "1d"), "Vắng mặt / No-show"),
                Query(_cancel_rate("", "1d"), "Hủy / Cancelled"),
                Query(_expired_rate("", "1d"), "Hết ngày / Expired at day close"),
            ),
            description="Cửa sổ trượt 1 ngày. / Rolling 1-day window.",
            unit="percentunit",
            width=8,
            height=10,
            minimum=0,
        ),
        Panel(
            "bargauge",
            "Tỷ lệ vắng mặt theo trung tâm / No-show rate per center",
            (Query(_no_show_rate("center"), "{{center}}", instant=True),),
            description=("Vé vắng mặt chia vé đã được gọi. / No-shows divided by tickets called."),
            unit="percentunit",
            width=12,
            height=16,
            thresholds=_RATE_LIMITS,
            minimum=0,
            maximum=1,
        ),
        Panel(
            "bargauge",
            "Tỷ lệ hủy theo trung tâm / Cancellation rate per center",
            (Query(_cancel_rate("center"), "{{center}}", instant=True),),
            description="Vé bị hủy chia vé đã cấp. / Cancellations divided by tickets issued.",
            unit="percentunit",
            width=12,
            height=16,
            thresholds=_RATE_LIMITS,
            minimum=0,
            maximum=1,
        ),
    ]


_COLUMNS: Final = (
    ("Value #A", "Chờ p50 / Wait p50", "s"),
    ("Value #B", "Chờ p90 / Wait p90", "s"),
    ("Value #C", "Mục tiêu / Target", "s"),
    ("Value #D", "Vắng mặt / No-show", "percentunit"),
    ("Value #E", "Hủy / Cancelled", "percentunit"),
    ("Value #F", "Hài lòng / Satisfied", "percentunit"),
)


def _table() -> Panel:
    exprs = (
        _wait(0.5, "center"),
        _wait(0.9, "center"),
        TARGET,
        _no_show_rate("center"),
        _cancel_rate("center"),
        _satisfied("center"),
    )
    return Panel(
        "table",
        "Chất lượng theo trung tâm / Quality per center",
        tuple(Query(expr, instant=True, table=True) for expr in exprs),
        description="Trong khoảng thời gian đã chọn. / Over the selected time range.",
        width=24,
        height=14,
        renames=(("center", "Trung tâm / Center"), *((v, name) for v, name, _ in _COLUMNS)),
        column_units=tuple((name, unit) for _, name, unit in _COLUMNS),
    )


def build() -> JSON:
    """The service quality dashboard (default range: the last 7 days)."""
    return dashboard(
        uid=UID,
        title="QMS · Chất lượng phục vụ / Service quality",
        description=(
            "Thời gian chờ so với mục tiêu, mức hài lòng, tỷ lệ vắng mặt và hủy. "
            "/ Waits against targets, satisfaction, no-show and cancellation rates."
        ),
        panels=[*_stats(), *_waits(), *_rates(), _table()],
        variables=[center_variable(multi=True)],
        time_from="now-7d",
        refresh="5m",
    )
