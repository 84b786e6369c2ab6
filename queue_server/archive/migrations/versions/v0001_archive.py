"""The archive: tickets, events, per-center checkpoints and detected gaps.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UPGRADE = """
-- Where each center's stream has been applied up to (DESIGN.md §7): advanced in the same
-- transaction as the rows, under this row's lock, so a batch is applied once.
CREATE TABLE checkpoints (
    center      text PRIMARY KEY,
    last_ms     bigint NOT NULL DEFAULT 0,       -- stream id of the last event applied
    last_seq    bigint NOT NULL DEFAULT 0,
    events      bigint NOT NULL DEFAULT 0,       -- events applied, all time
    gaps        integer NOT NULL DEFAULT 0,      -- trims past the checkpoint, all time
    lost        bigint NOT NULL DEFAULT 0,       -- events of those gaps never applied
    base        bigint NOT NULL DEFAULT 0,       -- the stream's entries-added not counted above
                                                 -- (a stream recreated, an archive started late)
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The audit trail: one row per stream event, keyed by the center's stream id.
CREATE TABLE events (
    center      text NOT NULL,
    sid_ms      bigint NOT NULL,
    sid_seq     bigint NOT NULL,
    type        text NOT NULL,
    at_ms       bigint NOT NULL,                 -- the center's clock (Redis TIME), epoch ms
    day         date NOT NULL,                   -- local day (Asia/Ho_Chi_Minh) of at_ms
    ticket      text,
    new_ticket  text,
    status      text,                            -- the ticket's status after the event
    counter     text,
    staff       text,
    actor       text NOT NULL DEFAULT '',
    origin      text,                            -- client address; cleared by retention
    info        jsonb,
    PRIMARY KEY (center, sid_ms, sid_seq)
);
CREATE INDEX events_ticket ON events (ticket) WHERE ticket IS NOT NULL;
CREATE INDEX events_new_ticket ON events (new_ticket) WHERE new_ticket IS NOT NULL;
CREATE INDEX events_day ON events USING brin (day);

-- One row per ticket: its latest state ("newest event wins", by stream id).
CREATE TABLE tickets (
    id              text PRIMARY KEY,            -- <center>-<YYYYMMDD>-<number>
    center          text NOT NULL,
    day             date NOT NULL,               -- the local day of its number
    number          text NOT NULL,
    service         text NOT NULL,
    status          text NOT NULL,
    priority        text NOT NULL DEFAULT '',
    channel         text NOT NULL,
    counter         text NOT NULL DEFAULT '',
    staff           text NOT NULL DEFAULT '',
    arrived_ms      bigint,
    issued_ms       bigint,
    appt_ms         bigint,
    called_ms       bigint,
    started_ms      bigint,
    ended_ms        bigint,
    recalls         integer NOT NULL DEFAULT 0,
    rating          smallint,
    from_ticket     text,
    to_ticket       text,
    note            text NOT NULL DEFAULT '',
    target_counter  text NOT NULL DEFAULT '',
    wait_ms         bigint,                      -- wait start to first call (rules of metrics)
    service_ms      bigint,                      -- start to completion, done tickets only
    citizen_hash    text,                        -- personal data: cleared by retention
    token_hash      text,                        -- personal data: cleared by retention
    version_ms      bigint NOT NULL,             -- stream id of the event it reflects
    version_seq     bigint NOT NULL,
    last_event      text NOT NULL
);
CREATE INDEX tickets_day_center ON tickets (day, center);
CREATE INDEX tickets_staff_day ON tickets (staff, day) WHERE staff <> '';

-- A stream trimmed past a checkpoint: what was lost and what was backfilled.
CREATE TABLE gaps (
    id                  bigserial PRIMARY KEY,
    center              text NOT NULL,
    detected_at         timestamptz NOT NULL DEFAULT now(),
    checkpoint          text NOT NULL,           -- last stream id applied before the gap
    resumed_after       text NOT NULL,           -- just before the stream's first entry
    stream_last         text NOT NULL,           -- the stream's last id when backfilled
    lost_events         bigint,                  -- how many events were never applied, if known
    tickets_backfilled  integer NOT NULL
);
CREATE INDEX gaps_center ON gaps (center, detected_at);
"""

DOWNGRADE = """
DROP TABLE gaps;
DROP TABLE tickets;
DROP TABLE events;
DROP TABLE checkpoints;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
