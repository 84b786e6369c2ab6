"""Prometheus rules (promtool check and unit tests), the dashboards and their exported files.

promtool is Debian's package here; the tests skip only where it is not installed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitoring.dashboards import (
    DATASOURCE_UID,
    FOLDER_TITLE,
    all_dashboards,
    all_promql_expressions,
    expand_variables,
)
from monitoring.dashboards.export import PACKAGE_DIR, dashboard_json, render_files, stale_files
from monitoring.dashboards.export import main as export_main
from monitoring.rules import (
    RULES_DIR,
    RULES_FILE,
    RULES_TEST_FILE,
    alert_names,
    recording_names,
    rule_expressions,
)

ROOT = Path(__file__).resolve().parents[1]
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed")

ALERTS = [
    "QmsWaitAboveTarget",
    "QmsWaitFarAboveTarget",
    "QmsNoOpenCounter",
    "QmsCounterPausedTooLong",
    "QmsReplicaDown",
    "QmsAllReplicasDown",
    "QmsTargetsAbsent",
    "QmsProjectionBehind",
    "QmsArchiveLagging",
    "QmsArchiveDown",
    "QmsArchiveGap",
]
UIDS = [
    "qms-province-overview",
    "qms-center-detail",
    "qms-staff-productivity",
    "qms-service-quality",
]
VIETNAMESE = re.compile(r"[ăâđêôơưàảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵ]")


def promtool(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *args], capture_output=True, text=True, cwd=cwd, timeout=120, check=False
    )


def _rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


@needs_promtool
def test_promtool_check_rules() -> None:
    result = promtool("check", "rules", str(RULES_FILE))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@needs_promtool
def test_promtool_unit_tests_pass() -> None:
    result = promtool("test", "rules", RULES_TEST_FILE.name, cwd=RULES_DIR)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_alert_names() -> None:
    assert alert_names() == ALERTS
    assert recording_names() == [
        "center:qms_queue_length:sum",
        "center:qms_queue_oldest_wait_seconds:max",
        "center:qms_wait_target_ratio:max",
    ]


@pytest.mark.parametrize("rule", [r for r in _rules() if "alert" in r], ids=lambda r: r["alert"])
def test_alerts_are_labelled_and_bilingual(rule: dict[str, Any]) -> None:
    assert rule["labels"]["severity"] in {"warning", "critical"}
    assert 'job="qms"' in rule["expr"]
    for key in ("summary", "description"):
        text = " ".join(rule["annotations"][key].split())
        vietnamese, english = text.split(" / ", 1)
        assert VIETNAMESE.search(vietnamese.lower()), f"{key} starts in Vietnamese"
        assert not VIETNAMESE.search(english.lower()), f"{key} continues in English"


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    document = yaml.safe_load(RULES_TEST_FILE.read_text(encoding="utf-8"))
    firing: set[str] = set()
    silent: set[str] = set()
    for case in document["tests"]:
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else silent).add(check["alertname"])
    assert firing == set(ALERTS)
    assert silent == set(ALERTS)


def _contract_metrics() -> set[str]:
    text = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    return set(re.findall(r"`(qms_\w+)`", text))


def _metric_names(expr: str) -> set[str]:
    names = set(re.findall(r"\bqms_\w+", expr))
    return {re.sub(r"_(bucket|sum|count)$", "", name) for name in names}


def test_expressions_use_only_contract_metrics() -> None:
    contract = _contract_metrics()
    assert "qms_wait_seconds" in contract
    used: set[str] = set()
    for expr in [*all_promql_expressions(), *rule_expressions()]:
        used |= _metric_names(expr)
    assert used <= contract, sorted(used - contract)
    # Every metric of the contract is shown somewhere, except qms_up: it is never 0 in
    # Prometheus, since /metrics answers 503 instead (up{job="qms"} covers that case).
    assert contract - used == {"qms_up"}


@needs_promtool
def test_dashboard_expressions_are_valid_promql(tmp_path: Path) -> None:
    """promtool parses every dashboard query, with Grafana's variables filled in."""
    exprs = [expand_variables(e, center="HL01|UB02", range_="1d") for e in all_promql_expressions()]
    assert not any("$" in e for e in exprs)
    rules = {
        "groups": [
            {
                "name": "dashboards",
                "rules": [
                    {"record": f"qms:dashboard_expr_{i}", "expr": e} for i, e in enumerate(exprs)
                ],
            }
        ]
    }
    path = tmp_path / "dashboard_exprs.yml"
    path.write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_expand_variables() -> None:
    expr = 'increase(x{center=~"$center", staff=~"$staff"}[$__range]) + rate(y[$__rate_interval])'
    assert expand_variables(expr, center="HL01", range_="1d", interval="2m") == (
        'increase(x{center=~"HL01", staff=~".*"}[1d]) + rate(y[2m])'
    )


# --- dashboards ------------------------------------------------------------------------------


def test_dashboard_uids_are_stable() -> None:
    assert list(all_dashboards()) == UIDS


@pytest.mark.parametrize("uid", UIDS)
def test_every_panel_has_a_datasource_and_expressions(uid: str) -> None:
    board = all_dashboards()[uid]
    assert board["schemaVersion"] == 39
    assert board["id"] is None
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        assert panel["type"] in {"timeseries", "stat", "table", "bargauge"}
        assert panel["datasource"] == {"type": "prometheus", "uid": DATASOURCE_UID}
        assert panel["title"].count(" / ") == 1, "Vietnamese first, then English"
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"]
            assert target["expr"].strip(), panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24


@pytest.mark.parametrize("uid", UIDS)
def test_template_variables(uid: str) -> None:
    variables = {v["name"]: v for v in all_dashboards()[uid]["templating"]["list"]}
    assert variables["center"]["definition"] == "label_values(qms_queue_length, center)"
    assert ("staff" in variables) == (uid == "qms-staff-productivity")
    for variable in variables.values():
        assert variable["datasource"]["uid"] == DATASOURCE_UID


def test_expressions_are_listed_once_each() -> None:
    exprs = all_promql_expressions()
    assert len(exprs) == len(set(exprs)) > 20
    in_panels = {
        target["expr"]
        for board in all_dashboards().values()
        for panel in board["panels"]
        for target in panel["targets"]
    }
    assert set(exprs) == in_panels


def test_exported_files_are_up_to_date() -> None:
    files = render_files(PACKAGE_DIR, ROOT / "monitoring" / "provisioning")
    assert stale_files(files) == [], "run: python -m monitoring.dashboards export"
    for uid, board in all_dashboards().items():
        text = (PACKAGE_DIR / f"{uid}.json").read_text(encoding="utf-8")
        assert text == dashboard_json(board)
        assert json.loads(text) == board
    assert export_main(["check"]) == 0


def test_export_writes_every_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "dashboards"
    assert export_main(["export", "--out", str(out)]) == 0
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.*"))
    assert written == sorted(
        [f"dashboards/{uid}.json" for uid in UIDS]
        + ["provisioning/dashboards.yml", "provisioning/datasources.yml"]
    )
    assert export_main(["check", "--out", str(out)]) == 0
    (out / f"{UIDS[0]}.json").write_text("{}", encoding="utf-8")
    assert export_main(["check", "--out", str(out)]) == 1
    assert UIDS[0] in capsys.readouterr().err


def test_provisioning_files_point_at_the_dashboards_and_datasource() -> None:
    provisioning = ROOT / "monitoring" / "provisioning"
    providers = yaml.safe_load((provisioning / "dashboards.yml").read_text(encoding="utf-8"))
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    assert provider["folder"] == FOLDER_TITLE
    assert provider["options"]["path"]
    sources = yaml.safe_load((provisioning / "datasources.yml").read_text(encoding="utf-8"))
    (source,) = sources["datasources"]
    assert (source["uid"], source["type"]) == (DATASOURCE_UID, "prometheus")
