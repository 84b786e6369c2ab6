"""Province overview: all 54 centers at a glance."""

from __future__ import annotations

from typing import Final

from ._model import GOOD_HIGH, GOOD_LOW, JSON, Panel, Query, center_variable, dashboard
from ._promql import CENTER, RANGE, gauge, increase, ratio, satisfied_share, sel, total

UID: Final = "qms-province-overview"
TODAY: Final = "now/d"
"""Panel time override: from local midnight (the dashboard's time zone) until now."""

_PER_SERVICE: Final = "center, service"

WAITING = total(gauge("qms_queue_length", _PER_SERVICE, CENTER), "center")
OLDEST = gauge("qms_queue_oldest_wait_seconds", "center", CENTER)
TARGET = gauge("qms_center_wait_target_seconds", "center", CENTER)
OPEN = gauge("qms_counters", "center", CENTER, 'state="open"')
SERVED = total(increase("qms_served_total", _PER_SERVICE, RANGE, CENTER), "center")
NO_SHOWS = total(increase("qms_no_shows_total", _PER_SERVICE, RANGE, CENTER), "center")
CALLS = total(increase("qms_calls_total", _PER_SERVICE, RANGE, CENTER), "center")


def _stats() -> list[Panel]:
    over_target = f"count({OLDEST} > on (center) ({TARGET} > 0)) or vector(0)"
    return [
        Panel(
            "stat",
            "Đang chờ / Waiting",
            (Query(f"sum({WAITING})", "Đang chờ / Waiting", instant=True),),
            description="Số công dân đang chờ ở các trung tâm đã chọn. / Citizens waiting now.",
            width=6,
            height=4,
        ),
        Panel(
            "stat",
            "Quầy đang mở / Open counters",
            (Query(f"sum({OPEN})", "Quầy mở / Open", instant=True),),
            width=6,
            height=4,
        ),
        Panel(
            "stat",
            "Đã phục vụ hôm nay / Served today",
            (Query(f"sum({SERVED})", "Đã phục vụ / Served", instant=True),),
            description="Hồ sơ đã hoàn tất từ 0 giờ hôm nay. / Tickets completed since midnight.",
            width=6,
            height=4,
            time_from=TODAY,
        ),
        Panel(
            "stat",
            "Trung tâm vượt mục tiêu chờ / Centers over wait target",
            (Query(over_target, "Trung tâm / Centers", instant=True),),
            description=(
                "Số trung tâm có công dân chờ lâu hơn mục tiêu của trung tâm. "
                "/ Centers where someone has waited longer than the center's target."
            ),
            width=6,
            height=4,
            thresholds=(("green", None), ("red", 1.0)),
        ),
    ]


def _per_center() -> list[Panel]:
    return [
        Panel(
            "bargauge",
            "Đang chờ theo trung tâm / Waiting per center",
            (Query(WAITING, "{{center}}", instant=True),),
            width=8,
            height=16,
        ),
        Panel(
            "bargauge",
            "Chờ lâu nhất so với mục tiêu / Longest wait vs target",
            (Query(ratio(OLDEST, TARGET), "{{center}}", instant=True),),
            description=(
                "Thời gian chờ của người chờ lâu nhất chia cho mục tiêu của trung tâm; "
                "100% là đúng mục tiêu. / The longest current wait divided by the center's "
                "target; 100% is at target."
            ),
            unit="percentunit",
            width=8,
            height=16,
            thresholds=tuple(GOOD_LOW),
            minimum=0,
            maximum=2,
        ),
        Panel(
            "bargauge",
            "Đã phục vụ hôm nay theo trung tâm / Served today per center",
            (Query(SERVED, "{{center}}", instant=True),),
            width=8,
            height=16,
            time_from=TODAY,
        ),
        Panel(
            "bargauge",
            "Quầy đang mở theo trung tâm / Open counters per center",
            (Query(OPEN, "{{center}}", instant=True),),
            width=8,
            height=16,
        ),
        Panel(
            "bargauge",
            "Tỷ lệ vắng mặt hôm nay / No-show rate today",
            (Query(ratio(NO_SHOWS, CALLS), "{{center}}", instant=True),),
            description=(
                "Số vé bị đánh dấu vắng mặt chia cho số vé đã được gọi, từ 0 giờ hôm nay. "
                "/ Tickets marked no-show divided by tickets called, since midnight."
            ),
            unit="percentunit",
            width=8,
            height=16,
            thresholds=(("green", None), ("orange", 0.1), ("red", 0.2)),
            minimum=0,
            maximum=1,
            time_from=TODAY,
        ),
        Panel(
            "bargauge",
            "Hài lòng hôm nay (mức 4–5) / Satisfaction today (levels 4–5)",
            (
                Query(
                    satisfied_share("qms_ratings_total", _PER_SERVICE, "center", RANGE, CENTER),
                    "{{center}}",
                    instant=True,
                ),
            ),
            description=(
                "Tỷ lệ đánh giá mức 4 hoặc 5 (trên thang 1–5). "
                "/ Share of ratings at level 4 or 5 (of 1–5)."
            ),
            unit="percentunit",
            width=8,
            height=16,
            thresholds=tuple(GOOD_HIGH),
            minimum=0,
            maximum=1,
            time_from=TODAY,
        ),
    ]


def _trends() -> list[Panel]:
    return [
        Panel(
            "timeseries",
            "Đang chờ theo thời gian / Waiting over time",
            (Query(WAITING, "{{center}}"),),
            width=12,
            height=10,
        ),
        Panel(
            "timeseries",
            "Chờ lâu nhất / Longest wait",
            (Query(OLDEST, "{{center}}"),),
            unit="s",
            width=12,
            height=10,
        ),
        Panel(
            "timeseries",
            "Vé cấp mỗi giờ theo kênh / Tickets issued per hour by channel",
            (
                Query(
                    total(
                        increase(
                            "qms_tickets_issued_total",
                            "center, service, channel, priority",
                            "1h",
                            CENTER,
                        ),
                        "channel",
                    ),
                    "{{channel}}",
                ),
            ),
            width=12,
            height=8,
            stacked=True,
        ),
        Panel(
            "timeseries",
            "Bản sao máy chủ đang chạy / Server replicas up",
            (Query(f"sum({sel('up')})", "Đang chạy / Up"),),
            description=(
                "Số bản sao trả lời /metrics; khi Redis không truy cập được, mọi bản sao trả "
                "503 nên giá trị về 0. / Replicas answering /metrics; when Redis is unreachable "
                "every replica answers 503, so this drops to 0."
            ),
            width=12,
            height=8,
            minimum=0,
        ),
    ]


def build() -> JSON:
    """The province overview dashboard."""
    return dashboard(
        uid=UID,
        title="QMS · Toàn tỉnh / Province overview",
        description=(
            "Tình hình xếp hàng của 54 trung tâm hành chính công tỉnh Quảng Ninh. "
            "/ Queues of the 54 public administration service centers of Quang Ninh."
        ),
        panels=[*_stats(), *_per_center(), *_trends()],
        variables=[center_variable(multi=True)],
        refresh="30s",
    )
