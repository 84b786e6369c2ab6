"""Read the Prometheus rule file shipped with the package (for tests and tooling)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

RULES_DIR = Path(__file__).with_name("rules")
RULES_FILE = RULES_DIR / "qms_alerts.yml"
RULES_TEST_FILE = RULES_DIR / "qms_alerts_test.yml"


def _rules(path: Path) -> list[dict[str, Any]]:
    import yaml  # only tooling needs it; the app itself never parses rules

    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def rule_expressions(path: Path = RULES_FILE) -> list[str]:
    """Every ``expr`` of the rule file, in file order (plain PromQL, no templating)."""
    return [str(rule["expr"]).strip() for rule in _rules(path)]


def alert_names(path: Path = RULES_FILE) -> list[str]:
    """Names of the alerting rules, in file order."""
    return [str(rule["alert"]) for rule in _rules(path) if "alert" in rule]


def recording_names(path: Path = RULES_FILE) -> list[str]:
    """Names of the recording rules, in file order."""
    return [str(rule["record"]) for rule in _rules(path) if "record" in rule]
