"""Metrics as CloudWatch embedded metric format (EMF) through Powertools Metrics."""

from __future__ import annotations

from aws_lambda_powertools import Metrics as PowertoolsMetrics
from aws_lambda_powertools.metrics import MetricUnit


class EmfMetrics:
    """Metrics on Powertools: values are buffered and flushed by the handler's ``log_metrics``."""

    def __init__(self, metrics: PowertoolsMetrics) -> None:
        self._metrics = metrics

    def count(self, name: str, value: float = 1) -> None:
        self._metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)

    def seconds(self, name: str, value: float) -> None:
        self._metrics.add_metric(name=name, unit=MetricUnit.Seconds, value=value)

    def flush(self) -> None:
        """Write the buffered values now (for code paths without a ``log_metrics`` handler)."""
        self._metrics.flush_metrics()
