"""The Amazon Bedrock adapter of the AIClient port: the Converse API, answering through one tool.

Structured output comes from tool use: the request offers one tool, ``record_assistant_config``,
whose input schema is the configuration's JSON Schema, and forces the model to call it
(``toolChoice``); the tool call's ``input`` is the configuration. The domain validates it again
afterwards (a model is not bound by the schema it is shown).

Retries and timeouts are botocore's (standard retry mode, connect/read timeouts in the client's
``Config``); the token budget caps the output with ``maxTokens`` and the input by leaving out
whole documents past an estimate of four characters per token (the Converse API has no
tokenizer for every model), and the provenance names only the documents sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    ConnectTimeoutError,
    ReadTimeoutError,
)

from content_service.domain.assistant_ai import (
    AssistantGenerationFailed,
    AssistantGeneratorUnavailable,
    Generation,
    GenerationRequest,
)
from content_service.domain.assistant_prompts import MODEL_TEMPLATE, render_document, render_model_prompt
from content_service.domain.assistant_schema import config_schema

GENERATOR = "bedrock"
TOOL_NAME = "record_assistant_config"
CHARS_PER_TOKEN = 4

# Errors that say "not now": botocore has already retried the throttling and 5xx ones.
_RETRY_LATER = frozenset(
    {
        "ThrottlingException",
        "ServiceUnavailableException",
        "InternalServerException",
        "ModelNotReadyException",
        "ModelTimeoutException",
    }
)


@dataclass(frozen=True)
class BedrockSettings:
    """The adapter's knobs (from the Settings model): model, budget, retries and timeouts."""

    model_id: str
    max_input_tokens: int = 24_000
    max_output_tokens: int = 2_048
    temperature: float = 0.2
    max_attempts: int = 3
    connect_timeout_seconds: float = 5
    read_timeout_seconds: float = 25


def bedrock_client_config(settings: BedrockSettings) -> Config:
    """The botocore client configuration: standard retries, explicit timeouts."""
    return Config(
        retries={"mode": "standard", "total_max_attempts": settings.max_attempts},
        connect_timeout=settings.connect_timeout_seconds,
        read_timeout=settings.read_timeout_seconds,
    )


class BedrockAIClient:
    """AIClient on the Bedrock Runtime Converse API (``client`` is a ``bedrock-runtime`` client)."""

    def __init__(self, client: Any, settings: BedrockSettings) -> None:
        self._client = client
        self._settings = settings

    def generate(self, request: GenerationRequest) -> Generation:
        documents, read = self._in_budget(request)
        if not documents:
            raise AssistantGenerationFailed("the package has no readable text to send to the model")
        system, user = render_model_prompt(request, documents)
        try:
            response = self._client.converse(
                modelId=self._settings.model_id,
                system=[{"text": system}],
                messages=[{"role": "user", "content": [{"text": user}]}],
                inferenceConfig={
                    "maxTokens": self._settings.max_output_tokens,
                    "temperature": self._settings.temperature,
                },
                toolConfig={
                    "tools": [
                        {
                            "toolSpec": {
                                "name": TOOL_NAME,
                                "description": "Record the study assistant's configuration of the course.",
                                "inputSchema": {"json": _tool_schema()},
                            }
                        }
                    ],
                    "toolChoice": {"tool": {"name": TOOL_NAME}},
                },
            )
        except ClientError as error:
            raise _refused(error) from error
        except (ReadTimeoutError, ConnectTimeoutError, ConnectionError) as error:
            raise AssistantGeneratorUnavailable(f"Amazon Bedrock did not answer in time: {error}") from error
        except BotoCoreError as error:
            raise AssistantGenerationFailed(f"the call to Amazon Bedrock failed: {error}") from error
        config = self._tool_input(response)
        usage = response.get("usage", {})
        return Generation(
            config=config,
            generator=GENERATOR,
            model_id=self._settings.model_id,
            template=MODEL_TEMPLATE,
            parameters={
                **request.parameters.as_dict(),
                "max_input_tokens": self._settings.max_input_tokens,
                "max_output_tokens": self._settings.max_output_tokens,
                "temperature": self._settings.temperature,
            },
            documents_read=read,
            usage={
                key: int(usage[key]) for key in ("inputTokens", "outputTokens", "totalTokens") if key in usage
            },
        )

    def _in_budget(self, request: GenerationRequest) -> tuple[list[str], tuple[str, ...]]:
        budget = self._settings.max_input_tokens * CHARS_PER_TOKEN
        rendered, read, used = [], [], 0
        for document in request.documents:
            text = render_document(document, document.text)
            if used + len(text) > budget:
                continue  # Whole documents only; a smaller one further on may still fit.
            rendered.append(text)
            read.append(document.path)
            used += len(text)
        return rendered, tuple(read)

    @staticmethod
    def _tool_input(response: dict[str, Any]) -> dict[str, Any]:
        stop = response.get("stopReason")
        if stop == "max_tokens":
            raise AssistantGenerationFailed(
                "the model ran out of its output token budget before finishing the configuration"
            )
        if stop in ("guardrail_intervened", "content_filtered"):
            raise AssistantGenerationFailed(f"the model refused the request ({stop})")
        content = response.get("output", {}).get("message", {}).get("content", [])
        for block in content:
            call = block.get("toolUse")
            if call and call.get("name") == TOOL_NAME and isinstance(call.get("input"), dict):
                return call["input"]
        raise AssistantGenerationFailed(f"the model did not call {TOOL_NAME} (stop reason {stop!r})")


def _tool_schema() -> dict[str, Any]:
    # Bedrock takes a plain JSON Schema object; the meta keys ($schema, $id) are left out.
    return {key: value for key, value in config_schema().items() if key not in ("$schema", "$id")}


def _refused(error: ClientError) -> Exception:
    code = error.response.get("Error", {}).get("Code", "")
    message = error.response.get("Error", {}).get("Message", "")
    if code in _RETRY_LATER:
        return AssistantGeneratorUnavailable(f"Amazon Bedrock is not answering now ({code}): {message}")
    # ValidationException, AccessDeniedException, ResourceNotFoundException, ModelErrorException: the
    # request or the deployment is wrong, and retrying the same call will not help.
    return AssistantGenerationFailed(f"Amazon Bedrock refused the request ({code}): {message}")
