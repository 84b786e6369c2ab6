"""The durable record: every center's event stream kept in PostgreSQL for years.

docs/archive.md describes it. Modules:

- :mod:`.migrate` and ``migrations/``: the schema (Alembic);
- :mod:`.projection`: events to rows, without I/O;
- :mod:`.store`: the transactions that apply a batch, a backfill and retention;
- :mod:`.archiver`: follows every center's stream into the store;
- :mod:`.backfill`: a stream trimmed past its checkpoint, detected and backfilled;
- :mod:`.retention`: personal data cleared, records deleted, after their periods;
- :mod:`.reports` and :mod:`.audit`: what is read back.
"""
