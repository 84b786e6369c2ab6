"""The ``scale`` benchmark's figures as one PNG (docs/scale.md shows it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_scale(result: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    centers = result.get("centers", [])
    if centers:
        ax = axes[0]
        sizes = [p["centers"] for p in centers]
        ax.plot(sizes, [p["redis_cpu_usec_per_op"] for p in centers], marker="o",
                label="Redis CPU µs / transition")
        ax.plot(sizes, [p["client_cpu_usec_per_op"] for p in centers], marker="o",
                label="client CPU µs / transition")
        ax.plot(sizes, [p["noop_redis_cpu_usec_per_op"] for p in centers], marker=".",
                linestyle="--", label="Redis CPU µs / noop (ceiling)")
        ax.set_xscale("log")
        ax.minorticks_off()
        ax.set_xticks(sizes, [str(s) for s in sizes])
        ax.set_xlabel("centers")
        ax.set_ylabel("µs")
        ax.set_ylim(bottom=0)
        ax.set_title("cost per transition vs centers")
        ax.legend(fontsize=8)
    sockets = result.get("sockets", [])
    if sockets:
        ax = axes[1]
        sizes = [p["sockets"] for p in sockets]
        ax.plot(sizes, [p["server_cpu_usec_per_frame"] for p in sockets], marker="o",
                label="server CPU µs / frame")
        ax.plot(sizes, [p["loopback_send_usec"] for p in sockets], marker=".",
                linestyle="--", label="loopback TCP send µs (floor)")
        ax.plot(sizes, [p["kib_per_socket"] for p in sockets], marker="s",
                label="server KiB / socket")
        twin = ax.twinx()
        twin.plot(sizes, [p["latency_p99_ms"] for p in sockets], marker="^", color="tab:red",
                  label="call → frame p99 (ms)")
        twin.plot(sizes, [p["latency_p50_ms"] for p in sockets], marker="v", color="salmon",
                  label="p50 (ms)")
        twin.set_ylabel("ms")
        twin.legend(fontsize=8, loc="center right")
        ax.set_xlabel("display sockets on one center, one process")
        ax.set_ylim(bottom=0)
        ax.set_title("fan-out vs sockets")
        ax.legend(fontsize=8, loc="lower left")
    replicas = result.get("replicas", [])
    if replicas:
        ax = axes[2]
        counts = [p["replicas"] for p in replicas]
        ax.bar([c - 0.2 for c in counts], [p["redis_cpu_usec_per_cycle"] / 10 for p in replicas],
               width=0.4, label="Redis CPU per cycle of 4 events (×10 µs)")
        ax.bar([c + 0.2 for c in counts], [p["latency_p99_ms"] for p in replicas], width=0.4,
               label="call → frame p99 (ms)")
        ax.set_xticks(counts, [str(c) for c in counts])
        ax.set_xlabel(f"server processes ({replicas[0]['sockets']} sockets split over them)")
        ax.set_title("replicas")
        ax.legend(fontsize=8)
    load = result.get("machine", {}).get("loadavg_1min")
    figure.suptitle(f"python -m simulations.bench scale (2 shared cores, load average {load})")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path
