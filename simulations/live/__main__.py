"""``python -m simulations.live``: see :mod:`simulations.live.cli`."""

from __future__ import annotations

import sys

from simulations.live.cli import main

sys.exit(main())
