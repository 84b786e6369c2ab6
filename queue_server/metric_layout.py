"""How the metrics projection lays out metrics in Redis, shared with the /metrics collector.

The ``m`` hash of a center (written only by the projection, queue_server/projections.py)
holds monotonic counters as ``name|label|label…`` fields; a histogram ``h`` with label ``x``
keeps ``h|x|b<i>`` (non-cumulative count of bucket i, 1-based, the last being +Inf) and
``h|x|sum`` (milliseconds).
"""

from __future__ import annotations

WAIT_BUCKETS_S: tuple[int, ...] = (60, 300, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200)
SERVICE_BUCKETS_S: tuple[int, ...] = (60, 120, 300, 600, 900, 1200, 1800, 3600)

# Field name prefixes written by the projection (queue_server/projections.py).
ISSUED = "issued"            # issued|service|channel|priority
CALLS = "calls"              # calls|service
RECALLS = "recalls"          # recalls|service
SERVED = "served"            # served|service
NO_SHOWS = "noshow"          # noshow|service
TRANSFERS = "transfers"      # transfers|service
CANCELLATIONS = "cancels"    # cancels|service
EXPIRED = "expired"          # expired|service (left when the day closed)
RATINGS = "ratings"          # ratings|service|level
WAIT = "wait"                # histogram wait|service
SERVICE_TIME = "svc"         # histogram svc|service
STAFF_SERVED = "s_served"    # s_served|staff
STAFF_SERVICE_TIME = "s_svc"  # histogram s_svc|staff
STAFF_RECALLS = "s_recalls"  # s_recalls|staff
STAFF_NO_SHOWS = "s_noshow"  # s_noshow|staff
STAFF_TIME = "s_time"        # s_time|staff|activity  (milliseconds)
STAFF_PAUSED = "s_pause"     # s_pause|staff|reason   (milliseconds)
STAFF_RATINGS = "s_ratings"  # s_ratings|staff|level

