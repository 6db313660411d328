"""The deterministic local generator: an assistant configuration extracted from the package's text.

No model and no network, so the embedded stack and the tests get a real configuration that the
same input always reproduces. Every word of the output except the phrasing templates
(``assistant_prompts.LOCAL_TEMPLATE``) comes from the package:

- key terms: YAKE! (Campos et al., 2020), an unsupervised statistical keyword extractor;
- summary: Luhn's extractive method (1958) with the YAKE! terms as the significant words:
  sentences are scored by the key terms they hold, the best few kept in reading order;
- questions: one per section heading (its first sentence is the answer hint) and one per key term
  (the sentence that uses it), interleaved;
- topic scope: the headings and key terms;
- reading level: the Flesch-Kincaid grade for English text, syllables counted by Pyphen's
  hyphenation dictionaries (the formula is three ratios, not worth a dependency).

Sentences are split with segtok, which YAKE! itself uses.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from importlib.metadata import version
from importlib.resources import files
from itertools import zip_longest
from typing import Any

import pyphen
import yake
from segtok.segmenter import split_multi

from content_service.domain.assistant_ai import (
    Generation,
    GenerationRequest,
    NotEnoughText,
    SourceDocument,
)
from content_service.domain.assistant_prompts import LOCAL_TEMPLATE, local_phrases
from content_service.domain.assistant_schema import outside_references

GENERATOR = "local-extractive"
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
_INTERROGATIVE = frozenset(
    [
        "how",
        "what",
        "why",
        "when",
        "where",
        "who",
        "whom",
        "which",
        "whose",
        "can",
        "could",
        "do",
        "does",
        "did",
        "is",
        "are",
        "was",
        "were",
        "should",
        "will",
    ]
)


@dataclass(frozen=True)
class _Sentence:
    text: str
    path: str
    position: int


def _cut(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters, cut at a word boundary with an ellipsis."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


class LocalExtractiveGenerator:
    """AIClient that extracts the configuration from the text itself (the embedded default)."""

    def __init__(self, *, max_input_chars: int = 200_000, ngram: int = 3, dedup_limit: float = 0.7) -> None:
        self._max_input_chars = max_input_chars
        self._ngram = ngram
        self._dedup_limit = dedup_limit

    @property
    def model_id(self) -> str:
        return f"yake-{version('yake')}+luhn"

    def generate(self, request: GenerationRequest) -> Generation:
        documents = self._in_budget(request.documents)
        language = request.language.split("-")[0].lower()
        sentences = self._sentences(documents, request.package_paths)
        if not sentences:
            raise NotEnoughText(
                "the package has no readable sentences to build an assistant from"
            )
        parameters = request.parameters
        ranked = self._key_terms(documents, language, parameters.max_key_terms * 3)
        terms = self._terms_with_context(ranked, sentences, parameters.max_key_terms)
        phrases = local_phrases()
        questions = self._questions(
            documents, terms, phrases, parameters.max_questions, request.package_paths
        )
        if not terms or not questions:
            raise NotEnoughText(
                "the package's text gives no key terms or questions to build an assistant from"
            )
        topics = self._topics(documents, terms)
        config = {
            "schema_version": 1,
            "language": request.language,
            "title": _cut(request.title or documents[0].title or documents[0].path, 200),
            "summary": self._summary(sentences, [t["term"] for t in terms], parameters.summary_sentences),
            "key_terms": terms,
            "questions": questions,
            "topic_scope": {
                "topics": topics,
                "out_of_scope_reply": _cut(
                    phrases["out_of_scope_reply"].format(
                        title=_cut(request.title, 120), topics=", ".join(topics[:3])
                    ),
                    400,
                ),
            },
            "reading_level": self._reading_level(sentences, language),
        }
        return Generation(
            config=config,
            generator=GENERATOR,
            model_id=self.model_id,
            template=LOCAL_TEMPLATE,
            parameters={
                **parameters.as_dict(),
                "yake": {"language": language, "ngram": self._ngram, "dedup_limit": self._dedup_limit},
                "max_input_chars": self._max_input_chars,
            },
            documents_read=tuple(document.path for document in documents),
        )

    def _in_budget(self, documents: tuple[SourceDocument, ...]) -> list[SourceDocument]:
        # Whole documents, in the order given (launch pages first), until the budget is spent; a
        # document left out is not named in the provenance.
        kept, used = [], 0
        for document in documents:
            size = len(document.text)
            if kept and used + size > self._max_input_chars:
                break
            kept.append(document)
            used += size
        return kept

    @staticmethod
    def _sentences(documents: list[SourceDocument], package_paths: frozenset[str]) -> list[_Sentence]:
        found = []
        for document in documents:
            for block in document.blocks:
                for text in split_multi(block):
                    text = text.strip()
                    # A sentence that points outside the package could never ship; skip it.
                    if len(_words(text)) >= 4 and not outside_references(text, package_paths):
                        found.append(_Sentence(text, document.path, len(found)))
        return found

    def _key_terms(self, documents: list[SourceDocument], language: str, top: int) -> list[str]:
        corpus = "\n\n".join("\n".join((*document.headings, document.text)) for document in documents)
        extractor = yake.KeywordExtractor(
            lan=language if _has_stopwords(language) else "en",
            n=self._ngram,
            dedup_lim=self._dedup_limit,
            top=top,
        )
        terms = []
        for term, _score in extractor.extract_keywords(corpus):
            term = term.strip()
            if len(term) >= 3 and _words(term) and len(term) <= 80:
                terms.append(term)
        return terms

    @staticmethod
    def _terms_with_context(
        ranked: list[str], sentences: list[_Sentence], limit: int
    ) -> list[dict[str, str]]:
        terms: list[dict[str, str]] = []
        seen: set[str] = set()
        for term in ranked:
            # One entry per word family: "golfer" and "golfers" are one term (the better-ranked).
            key = _fold(term)
            if key in seen:
                continue
            pattern = re.compile(rf"(?<!\w){re.escape(term)}(?!\w)", re.IGNORECASE)
            sentence = next((s for s in sentences if pattern.search(s.text)), None)
            if sentence is None:
                continue
            seen.add(key)
            terms.append({"term": term, "context": _cut(sentence.text, 500), "source": sentence.path})
            if len(terms) == limit:
                break
        return terms

    @staticmethod
    def _summary(sentences: list[_Sentence], terms: list[str], count: int) -> str:
        # Luhn: a sentence's significance is how many significant words it holds, weighted here by
        # the term's rank, over the square root of its length so long sentences do not win by size.
        weights = {term.casefold(): 1.0 - index / (len(terms) + 1) for index, term in enumerate(terms)}

        def score(sentence: _Sentence) -> float:
            words = _words(sentence.text)
            lowered = sentence.text.casefold()
            hits = sum(weight for term, weight in weights.items() if term in lowered)
            return hits / math.sqrt(len(words))

        candidates = [s for s in sentences if 6 <= len(_words(s.text)) <= 60] or sentences
        best = sorted(candidates, key=lambda s: (-score(s), s.position))[:count]
        summary = ""
        for sentence in sorted(best, key=lambda s: s.position):
            joined = f"{summary} {sentence.text}".strip()
            if len(joined) > 2000:
                break
            summary = joined
        if len(summary) < 20:
            summary = _cut(" ".join(s.text for s in sentences), 2000)
        if len(summary) < 20:
            raise NotEnoughText("the package's text is too short to summarise")
        return summary

    @staticmethod
    def _questions(
        documents: list[SourceDocument],
        terms: list[dict[str, str]],
        phrases: dict[str, str],
        limit: int,
        package_paths: frozenset[str],
    ) -> list[dict[str, str]]:
        per_document: list[list[dict[str, str]]] = []
        seen: set[str] = set()
        for document in documents:
            from_document: list[dict[str, str]] = []
            per_document.append(from_document)
            for section in document.sections:
                heading = section.heading.strip().rstrip("?:.")
                if not heading or section.level > 3 or not section.blocks or len(heading) > 200:
                    continue
                if heading.casefold() in seen or outside_references(heading, package_paths):
                    continue
                seen.add(heading.casefold())
                first = next(iter(split_multi(section.blocks[0])), section.blocks[0])
                words = _words(heading)
                form = (
                    "heading_question_interrogative"
                    if words and words[0].casefold() in _INTERROGATIVE
                    else "heading_question"
                )
                question = {"question": phrases[form].format(heading=heading), "source": document.path}
                if not outside_references(first, package_paths):
                    question["answer_hint"] = _cut(first.strip(), 600)
                from_document.append(question)
        # Round robin over the documents, so the questions cover the course and not its first page.
        from_headings = [q for row in zip_longest(*per_document) for q in row if q is not None]
        # Multi-word terms make the better questions; a stable sort keeps their rank otherwise.
        by_length = sorted(terms, key=lambda term: -min(len(_words(term["term"])), 2))
        from_terms = [
            {
                "question": phrases["term_question"].format(term=term["term"]),
                "answer_hint": _cut(term["context"], 600),
                "source": term["source"],
            }
            for term in by_length
        ]
        questions = []
        for pair in zip(from_headings, from_terms, strict=False):
            questions.extend(pair)
        longer = from_headings if len(from_headings) > len(from_terms) else from_terms
        questions.extend(longer[min(len(from_headings), len(from_terms)) :])
        return questions[:limit]

    @staticmethod
    def _topics(documents: list[SourceDocument], terms: list[dict[str, str]]) -> list[str]:
        topics, seen = [], set()
        headings = [s.heading for d in documents for s in d.sections if s.heading and s.level <= 2]
        for topic in (*headings, *(t["term"] for t in terms)):
            topic = _cut(topic.strip().rstrip("?:."), 120)
            if topic and topic.casefold() not in seen:
                seen.add(topic.casefold())
                topics.append(topic)
        return topics[:12] or ["this course"]

    @staticmethod
    def _reading_level(sentences: list[_Sentence], language: str) -> dict[str, Any]:
        words = [w for s in sentences for w in _words(s.text)]
        words_per_sentence = len(words) / len(sentences)
        grade = None
        if language == "en" and words:
            dictionary = pyphen.Pyphen(lang="en_US")
            syllables = sum(len(dictionary.positions(w.lower())) + 1 for w in words)
            grade = round(0.39 * words_per_sentence + 11.8 * syllables / len(words) - 15.59, 1)
        measure = grade if grade is not None else words_per_sentence / 2
        band = "basic" if measure < 6 else "intermediate" if measure < 11 else "advanced"
        return {"band": band, "flesch_kincaid_grade": grade}


def _fold(term: str) -> str:
    """The key two forms of one term share: case folded, a plural's ending dropped per word."""
    return " ".join(re.sub(r"(?<=[^s])e?s$", "", word) for word in term.casefold().split())


def _has_stopwords(language: str) -> bool:
    return files("yake.core").joinpath("StopwordsList", f"stopwords_{language}.txt").is_file()
