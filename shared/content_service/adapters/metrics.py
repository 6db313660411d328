"""Metrics as CloudWatch embedded metric format (EMF) through Powertools, and KMS call timing.

Every figure is written at once as its own EMF line (Powertools ``single_metric``) rather than
buffered until a handler's ``log_metrics`` flushes: nothing is lost when a function raises, no
handler has to remember a decorator, and in the local stack, where every function shares one
process, one function's flush cannot carry another's figures.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from content_service.service.outbox_ports import Metrics
from content_service.service.telemetry import record_kms_call


class EmfMetrics:
    """The ``Metrics`` port on EMF: namespace and service dimension fixed, other dimensions per call."""

    def __init__(self, namespace: str, service: str, local_log: Path | None = None) -> None:
        self._namespace = namespace
        self._service = service
        # The local stack also appends each figure to a JSON-lines file `local metrics` reads.
        self._local_log = local_log

    def count(self, name: str, value: float = 1, **dimensions: str) -> None:
        self._emit(name, MetricUnit.Count, value, dimensions)

    def seconds(self, name: str, value: float, **dimensions: str) -> None:
        self._emit(name, MetricUnit.Seconds, value, dimensions)

    def milliseconds(self, name: str, value: float, **dimensions: str) -> None:
        self._emit(name, MetricUnit.Milliseconds, value, dimensions)

    def bytes(self, name: str, value: float, **dimensions: str) -> None:
        self._emit(name, MetricUnit.Bytes, value, dimensions)

    def _emit(self, name: str, unit: MetricUnit, value: float, dimensions: dict[str, str]) -> None:
        if self._local_log is not None:
            record = {"t": time.time(), "name": name, "unit": unit.value, "value": value, "dimensions": dimensions}
            with _LOCAL_LOG_LOCK, self._local_log.open("a", encoding="utf-8") as log:
                log.write(json.dumps(record, separators=(",", ":")) + "\n")
        # single_metric writes even when POWERTOOLS_METRICS_DISABLED is set; honour it here.
        if is_metrics_disabled():
            return
        with single_metric(
            name=name,
            unit=unit,
            value=value,
            namespace=self._namespace,
            default_dimensions={"service": self._service, **dimensions},
        ):
            pass


_LOCAL_LOG_LOCK = threading.Lock()
_STARTED = "content_service_started"


def instrument_kms(client: Any, metrics: Metrics) -> Any:
    """Time every call of a boto3 KMS client and count throttled ones, through botocore's events.

    ``before-parameter-build`` and ``after-call`` fire once per API call, after botocore's own retries and before an error is
    raised, so the latency includes retries and a throttle seen here is one the caller gets.
    """

    def started(context: dict[str, Any], **_: Any) -> None:
        context[_STARTED] = time.perf_counter()

    def finished(model: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        begun = context.pop(_STARTED, None)
        if begun is None:
            return
        error = parsed.get("Error", {}).get("Code") if isinstance(parsed, dict) else None
        record_kms_call(metrics, model.name, (time.perf_counter() - begun) * 1000, error)

    client.meta.events.register("before-parameter-build.kms", started)
    client.meta.events.register("after-call.kms", finished)
    return client
