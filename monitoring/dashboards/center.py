"""Center detail: one center's queues, waits, service times and counters."""

from __future__ import annotations

from typing import Final

from ._model import JSON, Panel, Query, center_variable, dashboard
from ._promql import CENTER, RANGE, TREND, gauge, increase, mean, quantile, total

UID: Final = "qms-center-detail"

_PER_SERVICE: Final = "center, service"

TARGET = gauge("qms_center_wait_target_seconds", "center", CENTER)


def _stats() -> list[Panel]:
    waiting = total(gauge("qms_queue_length", _PER_SERVICE, CENTER))
    served = total(increase("qms_served_total", _PER_SERVICE, RANGE, CENTER))
    return [
        Panel("stat", "Đang chờ / Waiting", (Query(waiting, instant=True),), width=6, height=4),
        Panel(
            "stat",
            "Chờ lâu nhất / Longest wait",
            (Query(gauge("qms_queue_oldest_wait_seconds", "center", CENTER), instant=True),),
            unit="s",
            width=6,
            height=4,
        ),
        Panel(
            "stat",
            "Mục tiêu chờ / Wait target",
            (Query(TARGET, instant=True),),
            description="Do tỉnh cấu hình. / Set in the province configuration.",
            unit="s",
            width=6,
            height=4,
        ),
        Panel(
            "stat",
            "Đã phục vụ hôm nay / Served today",
            (Query(served, instant=True),),
            width=6,
            height=4,
            time_from="now/d",
        ),
    ]


def _queues() -> list[Panel]:
    return [
        Panel(
            "timeseries",
            "Hàng chờ theo dịch vụ / Queue length per service",
            (Query(gauge("qms_queue_length", _PER_SERVICE, CENTER), "{{service}}"),),
            width=12,
            height=9,
            stacked=True,
        ),
        Panel(
            "bargauge",
            "Chờ lâu nhất theo dịch vụ / Longest wait per service",
            (
                Query(
                    gauge("qms_queue_oldest_wait_seconds", _PER_SERVICE, CENTER),
                    "{{service}}",
                    instant=True,
                ),
            ),
            unit="s",
            width=12,
            height=9,
        ),
    ]


def _times() -> list[Panel]:
    return [
        Panel(
            "timeseries",
            "Thời gian chờ p50, p90 / Wait p50, p90",
            (
                Query(quantile(0.5, "qms_wait_seconds", _PER_SERVICE, "", TREND, CENTER), "p50"),
                Query(quantile(0.9, "qms_wait_seconds", _PER_SERVICE, "", TREND, CENTER), "p90"),
                Query(TARGET, "Mục tiêu / Target"),
            ),
            description=(
                "Từ lúc đến (lúc đến ban đầu nếu được chuyển) tới lần gọi đầu tiên, cửa sổ "
                f"trượt {TREND}. / Arrival (original arrival for transfers) to first call, "
                f"rolling {TREND} window."
            ),
            unit="s",
            width=12,
            height=9,
        ),
        Panel(
            "bargauge",
            "Chờ p90 theo dịch vụ / Wait p90 per service",
            (
                Query(
                    quantile(0.9, "qms_wait_seconds", _PER_SERVICE, "service", RANGE, CENTER),
                    "{{service}}",
                    instant=True,
                ),
            ),
            description="Trong khoảng thời gian đã chọn. / Over the selected time range.",
            unit="s",
            width=12,
            height=9,
        ),
        Panel(
            "timeseries",
            "Thời gian phục vụ p50, p90 / Service time p50, p90",
            (
                Query(quantile(0.5, "qms_service_seconds", _PER_SERVICE, "", TREND, CENTER), "p50"),
                Query(quantile(0.9, "qms_service_seconds", _PER_SERVICE, "", TREND, CENTER), "p90"),
            ),
            description=(
                f"Từ lúc bắt đầu đến lúc hoàn tất, cửa sổ trượt {TREND}. "
                f"/ Start of service to completion, rolling {TREND} window."
            ),
            unit="s",
            width=12,
            height=9,
        ),
        Panel(
            "bargauge",
            "Thời gian phục vụ trung bình theo dịch vụ / Mean service time per service",
            (
                Query(
                    mean("qms_service_seconds", _PER_SERVICE, "service", RANGE, CENTER),
                    "{{service}}",
                    instant=True,
                ),
            ),
            unit="s",
            width=12,
            height=9,
        ),
    ]


def _counters() -> list[Panel]:
    issued = increase(
        "qms_tickets_issued_total", "center, service, channel, priority", "1h", CENTER
    )
    return [
        Panel(
            "timeseries",
            "Quầy theo trạng thái / Counters by state",
            (Query(gauge("qms_counters", "center, state", CENTER), "{{state}}"),),
            description="open = mở, paused = tạm dừng, closed = đóng.",
            width=12,
            height=8,
            stacked=True,
        ),
        Panel(
            "bargauge",
            "Quầy đang tạm dừng / Paused counters",
            (
                Query(
                    f"{gauge('qms_counter_paused_seconds', 'center, counter', CENTER)} > 0",
                    "{{counter}}",
                    instant=True,
                ),
            ),
            description="Cảnh báo sau 30 phút. / Alerted after 30 minutes.",
            unit="s",
            width=12,
            height=8,
            thresholds=(("green", None), ("orange", 900.0), ("red", 1800.0)),
        ),
        Panel(
            "bargauge",
            "Chờ riêng một quầy / Waiting for one counter",
            (
                Query(
                    gauge("qms_counter_queue_length", "center, counter", CENTER),
                    "{{counter}}",
                    instant=True,
                ),
            ),
            description="Số được chuyển đến một quầy cụ thể (không tính trong hàng đợi dịch vụ)."
                        " / Tickets transferred to one counter (not in the service queues).",
            width=24,
            height=6,
        ),
        Panel(
            "timeseries",
            "Lượt vé mỗi giờ / Ticket events per hour",
            (
                Query(total(issued), "Cấp / Issued"),
                Query(
                    total(increase("qms_served_total", _PER_SERVICE, "1h", CENTER)),
                    "Đã phục vụ / Served",
                ),
                Query(
                    total(increase("qms_no_shows_total", _PER_SERVICE, "1h", CENTER)),
                    "Vắng mặt / No-show",
                ),
                Query(
                    total(increase("qms_recalls_total", _PER_SERVICE, "1h", CENTER)),
                    "Gọi lại / Recalls",
                ),
                Query(
                    total(increase("qms_transfers_total", _PER_SERVICE, "1h", CENTER)),
                    "Chuyển đi / Transferred out",
                ),
            ),
            width=24,
            height=8,
        ),
    ]


def build() -> JSON:
    """The center detail dashboard (one center at a time)."""
    return dashboard(
        uid=UID,
        title="QMS · Chi tiết trung tâm / Center detail",
        description="Hàng chờ, thời gian chờ và quầy của một trung tâm. / One center in detail.",
        panels=[*_stats(), *_queues(), *_times(), *_counters()],
        variables=[center_variable(multi=False)],
        refresh="30s",
    )
