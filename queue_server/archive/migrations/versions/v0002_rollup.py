"""A monthly rollup per center, kept by the archiver, for reports over whole months.

Plain SQL over the ticket rows took 4.2 s for a year's province report by center over two
million tickets (docs/benchmarks.md, "Archive"): the percentiles sort every wait twice (per
center and for the total). The rollup holds per center and month the counts and sums, and
the waits and service times as histograms of fine classes (5 s up to an hour, 1 min up to
four hours, 10 min up to a day), maintained in the same transaction as the ticket rows.
Every report computes its percentiles from such classes, the rollup's or the tickets' own,
so a figure never depends on which one answered.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UPGRADE = """
-- The class of a duration in ms, and its bounds: 0..719 by 5 s below 1 h, 720..899 by 1 min
-- below 4 h, 900..1019 by 10 min below 24 h, 1020 beyond. Inlined by the planner.
CREATE FUNCTION qms_bucket(ms bigint) RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN ms < 3600000 THEN (ms / 5000)::integer
                  WHEN ms < 14400000 THEN 720 + ((ms - 3600000) / 60000)::integer
                  WHEN ms < 86400000 THEN 900 + ((ms - 14400000) / 600000)::integer
                  ELSE 1020 END $$;
CREATE FUNCTION qms_bucket_low(b integer) RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN b < 720 THEN b * 5000::bigint
                  WHEN b < 900 THEN 3600000 + (b - 720) * 60000::bigint
                  WHEN b < 1020 THEN 14400000 + (b - 900) * 600000::bigint
                  ELSE 86400000 END $$;
CREATE FUNCTION qms_bucket_high(b integer) RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN b >= 1020 THEN 86400000 ELSE qms_bucket_low(b + 1) END $$;

CREATE TABLE monthly (
    center        text NOT NULL,
    month         date NOT NULL,                -- first day of the month of the tickets' day
    tickets       bigint NOT NULL DEFAULT 0,
    served        bigint NOT NULL DEFAULT 0,
    no_shows      bigint NOT NULL DEFAULT 0,
    transfers     bigint NOT NULL DEFAULT 0,
    cancellations bigint NOT NULL DEFAULT 0,
    expirations   bigint NOT NULL DEFAULT 0,
    called        bigint NOT NULL DEFAULT 0,
    wait_sum      bigint NOT NULL DEFAULT 0,
    service_n     bigint NOT NULL DEFAULT 0,
    service_sum   bigint NOT NULL DEFAULT 0,
    r1 bigint NOT NULL DEFAULT 0, r2 bigint NOT NULL DEFAULT 0, r3 bigint NOT NULL DEFAULT 0,
    r4 bigint NOT NULL DEFAULT 0, r5 bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (center, month)
);
CREATE TABLE monthly_hist (
    center  text NOT NULL,
    month   date NOT NULL,
    kind    "char" NOT NULL,                    -- 'w' waits, 's' service times
    bucket  integer NOT NULL,
    n       bigint NOT NULL,
    PRIMARY KEY (center, month, kind, bucket)
);

"""
# The rollup made from the ticket rows (an archive that already holds some; benchmarks).
REBUILD_ROLLUP = """
-- An archive that already holds tickets starts its rollup from them.
INSERT INTO monthly
SELECT center, date_trunc('month', day)::date, count(*),
       count(*) FILTER (WHERE status = 'done'), count(*) FILTER (WHERE status = 'no_show'),
       count(*) FILTER (WHERE status = 'transferred'),
       count(*) FILTER (WHERE status = 'cancelled'), count(*) FILTER (WHERE status = 'expired'),
       count(wait_ms), coalesce(sum(wait_ms), 0), count(service_ms),
       coalesce(sum(service_ms), 0),
       count(*) FILTER (WHERE rating = 1), count(*) FILTER (WHERE rating = 2),
       count(*) FILTER (WHERE rating = 3), count(*) FILTER (WHERE rating = 4),
       count(*) FILTER (WHERE rating = 5)
FROM tickets GROUP BY 1, 2;
INSERT INTO monthly_hist
SELECT center, date_trunc('month', day)::date, v.kind, qms_bucket(v.ms), count(*)
FROM tickets CROSS JOIN LATERAL (VALUES ('w'::"char", wait_ms), ('s'::"char", service_ms))
     AS v(kind, ms)
WHERE v.ms IS NOT NULL GROUP BY 1, 2, 3, 4;
"""
UPGRADE += REBUILD_ROLLUP

DOWNGRADE = """
DROP TABLE monthly_hist;
DROP TABLE monthly;
DROP FUNCTION qms_bucket_high(integer);
DROP FUNCTION qms_bucket_low(integer);
DROP FUNCTION qms_bucket(bigint);
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
