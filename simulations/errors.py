"""The planning tools' one error: an input that cannot be simulated, named precisely.

It is a :class:`queue_server.errors.ConfigError`, so whoever handles a bad province file
handles a bad demand profile, roster or archive the same way. Its ``str`` is one sentence that
names the file, the center (when the problem is one center's) and the field.
"""

from __future__ import annotations

from pathlib import Path

from queue_server.errors import ConfigError


class PlanningInputError(ConfigError):
    code = "planning-input"

    def __init__(self, source: Path | str, field: str, problem: str, center: str = "") -> None:
        where = f"center {center}: " if center else ""
        super().__init__(f"{source}: {where}field '{field}': {problem}",
                         file=str(source), field=field, center=center)
        self.source, self.field, self.center = str(source), field, center
