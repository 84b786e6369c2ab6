"""Monitoring for the queue system: Prometheus rules, Grafana dashboards and provisioning.

- ``monitoring/rules/qms_alerts.yml``: alerting and recording rules, unit-tested by
  ``monitoring/rules/qms_alerts_test.yml`` (``promtool test rules``).
- :mod:`monitoring.dashboards`: the four Grafana dashboards built in code, exported as JSON
  with ``python -m monitoring.dashboards export``.
- :mod:`monitoring.grafana`: ``python -m monitoring.grafana provision`` pushes the data source,
  the folder and the dashboards through the Grafana HTTP API.
"""
