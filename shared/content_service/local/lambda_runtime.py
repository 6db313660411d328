"""What the Lambda service gives a handler: the imported handler and a context object."""

from __future__ import annotations

import importlib.util
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Module functions behind Logger.thread_safe_append_keys/remove_keys, which need no Logger instance.
from aws_lambda_powertools.logging.formatter import remove_context_keys, set_context_keys

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class LambdaContext:
    """The attributes and method of Lambda's context object that handlers and Powertools use."""

    function_name: str
    timeout_seconds: int
    memory_limit_in_mb: int = 128
    region: str = "eu-west-1"
    account_id: str = "123456789012"
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds

    @property
    def invoked_function_arn(self) -> str:
        """The function ARN, as an unqualified invoke would report it."""
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        """The CloudWatch log group the function would log to."""
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        """A log stream name in Lambda's format."""
        return f"{time.strftime('%Y/%m/%d')}/[$LATEST]{self.aws_request_id.replace('-', '')}"

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's configured timeout."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def load_handler(handler_file: Path, handler_name: str, module_name: str) -> Handler:
    """Import ``handler_file`` as a fresh module called ``module_name`` and return its handler.

    Every function gets its own module namespace (they are all called ``app.py``), and the module
    is registered in ``sys.modules`` so that dataclasses and pickling inside it behave normally.
    """
    if not handler_file.is_file():
        raise FileNotFoundError(f"handler file {handler_file} does not exist")
    spec = importlib.util.spec_from_file_location(module_name, handler_file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {handler_file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    handler = getattr(module, handler_name, None)
    if not callable(handler):
        raise AttributeError(f"{handler_file} has no callable {handler_name!r}")
    return with_own_log_context(handler)


def with_own_log_context(handler: Handler) -> Handler:
    """The handler, with its invocation's Lambda fields on every Powertools log line it writes.

    On Lambda each function has its own process, so Powertools' ``inject_lambda_context`` may keep
    the function's name, request id and cold start in keys shared by the process. Here every
    function shares one process and runs in its own poller or gateway thread, so those shared keys
    hold whichever function set them last (a build's ``build finished`` line tagged with the watch
    function). Powertools' thread-local keys take precedence over the shared ones, so the same
    fields are set thread-locally for each invocation and removed after it.
    """
    cold = threading.Event()

    def invoke(event: dict[str, Any], context: Any) -> Any:
        keys = {
            "function_name": context.function_name,
            "function_memory_size": context.memory_limit_in_mb,
            "function_arn": context.invoked_function_arn,
            "function_request_id": context.aws_request_id,
            "cold_start": not cold.is_set(),
        }
        cold.set()
        set_context_keys(**keys)
        try:
            return handler(event, context)
        finally:
            remove_context_keys(keys)

    return invoke
