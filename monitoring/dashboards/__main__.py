"""``python -m monitoring.dashboards export --out DIR``."""

from __future__ import annotations

from .export import main

raise SystemExit(main())
