"""``python -m counters``: see counters.cli."""

from __future__ import annotations

import sys

from counters.cli import main

if __name__ == "__main__":
    sys.exit(main())
