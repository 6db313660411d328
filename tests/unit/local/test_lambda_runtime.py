"""The local Lambda runtime: each function's log lines carry its own invocation's fields."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from content_service.local.lambda_runtime import LambdaContext, load_handler

HANDLER = """
from aws_lambda_powertools import Logger
import sys

logger = Logger(service="runtime-log-test", stream=sys.stderr)


@logger.inject_lambda_context
def handler(event, context):
    event["inside"].set()
    event["go_on"].wait(5)
    logger.info("{message}")
"""


def _handler(tmp_path: Path, name: str, message: str):
    path = tmp_path / name / "app.py"
    path.parent.mkdir()
    path.write_text(HANDLER.format(message=message), encoding="utf-8")
    return load_handler(path, "handler", f"runtime_test_{name}")


def test_a_function_s_line_carries_its_own_name_while_another_function_runs_beside_it(
    tmp_path, capsys
) -> None:
    build, watch = (
        _handler(tmp_path, "build", "build finished"),
        _handler(tmp_path, "watch", "watch finished"),
    )
    build_inside, build_go_on = threading.Event(), threading.Event()
    watch_inside, watch_go_on = threading.Event(), threading.Event()
    build_context = LambdaContext(function_name="build-fn", timeout_seconds=30)
    build_thread = threading.Thread(
        target=build, args=({"inside": build_inside, "go_on": build_go_on}, build_context)
    )

    # The build sets its context, then the watch sets its own while the build is still running.
    build_thread.start()
    assert build_inside.wait(5)
    watch_go_on.set()
    watch(
        {"inside": watch_inside, "go_on": watch_go_on},
        LambdaContext(function_name="watch-fn", timeout_seconds=30),
    )
    build_go_on.set()
    build_thread.join(5)

    lines = {line["message"]: line for line in map(json.loads, capsys.readouterr().err.splitlines())}
    assert lines["build finished"]["function_name"] == "build-fn"
    assert lines["build finished"]["function_request_id"] == build_context.aws_request_id
    assert lines["watch finished"]["function_name"] == "watch-fn"
    # Each function has its own cold start.
    assert lines["build finished"]["cold_start"] is True
    assert lines["watch finished"]["cold_start"] is True
