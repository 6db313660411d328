"""The AIClient port: generate an assistant configuration from a package's own text.

One port, two adapters (``content_service.adapters.ai``): Amazon Bedrock's Converse API on AWS,
and a deterministic extractive generator as the embedded default. The use case hands the port
the package's text as :class:`SourceDocument` values and gets back a :class:`Generation`: the
structured output plus what the provenance record needs to say how it was made (generator,
model id, the prompt template and its SHA-256, the effective parameters, which documents were
actually read). The output is checked by the domain (``assistant_schema``) before it is kept.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Protocol

from content_service.domain.errors import PROBLEM_BASE, DomainError, InvariantViolated


@dataclass(frozen=True)
class Section:
    """A heading and the blocks of text under it, in reading order (heading "" before the first)."""

    heading: str
    level: int
    blocks: tuple[str, ...]


@dataclass(frozen=True)
class SourceDocument:
    """The readable text of one package file: its path, its SHA-256 and its sections."""

    path: str
    sha256: str
    title: str
    language: str | None
    sections: tuple[Section, ...]

    @property
    def headings(self) -> tuple[str, ...]:
        return tuple(section.heading for section in self.sections if section.heading)

    @property
    def blocks(self) -> tuple[str, ...]:
        return tuple(block for section in self.sections for block in section.blocks)

    @property
    def text(self) -> str:
        return "\n\n".join(self.blocks)


@dataclass(frozen=True)
class PromptTemplate:
    """A versioned template; its SHA-256 is over the exact text, so any edit is a new hash."""

    template_id: str
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class GenerationParameters:
    """What the caller may tune; the adapters add their own (model, budget) to the provenance."""

    max_key_terms: int = 12
    max_questions: int = 8
    summary_sentences: int = 3

    def as_dict(self) -> dict[str, Any]:
        return {
            "max_key_terms": self.max_key_terms,
            "max_questions": self.max_questions,
            "summary_sentences": self.summary_sentences,
        }


@dataclass(frozen=True)
class GenerationRequest:
    """The package's text and what to make of it. The text is data, never instructions.

    ``package_paths`` are all the package's files: the only things an output may cite.
    """

    title: str
    language: str
    documents: tuple[SourceDocument, ...]
    package_paths: frozenset[str]
    parameters: GenerationParameters = field(default_factory=GenerationParameters)


@dataclass(frozen=True)
class Generation:
    """What an AIClient produced and how.

    ``documents_read`` names the documents whose text reached the generator (a token budget may
    leave some out), so the provenance's input digest says exactly what the output came from.
    """

    config: dict[str, Any]
    generator: str
    model_id: str
    template: PromptTemplate
    parameters: dict[str, Any]
    documents_read: tuple[str, ...]
    usage: dict[str, int] = field(default_factory=dict)


class AIClient(Protocol):
    """Generates structured output (an assistant configuration) from a prompt template and inputs."""

    def generate(self, request: GenerationRequest) -> Generation:
        """Produce a configuration for ``request``.

        Raises :class:`AssistantGeneratorUnavailable` when the generator cannot answer now (throttled,
        timed out, not ready: retry later), :class:`AssistantGenerationFailed` when it answered
        with something unusable or refused the request, and :class:`NotEnoughText` when the
        package's text is too thin to make a configuration of.
        """
        ...


class AssistantGeneratorUnavailable(DomainError):
    """The generator did not answer in time or refused for load; the request may be retried."""

    problem_type = PROBLEM_BASE + "assistant-generator-unavailable"
    title = "The assistant generator is unavailable; retry later"
    status = 503


class AssistantGenerationFailed(DomainError):
    """The generator answered, but not with a usable configuration (or the call was rejected)."""

    problem_type = PROBLEM_BASE + "assistant-generation-failed"
    title = "The assistant generator gave no usable configuration"
    status = 502


class NotEnoughText(InvariantViolated):
    """The package has too little readable text for an assistant (no sentences, terms or questions)."""

    problem_type = PROBLEM_BASE + "assistant-not-enough-text"
    title = "The package has too little readable text for an assistant"
