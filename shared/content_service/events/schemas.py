"""Generate the JSON Schema of every published event into ``events/schemas/<subject>.json``.

Usage: ``python -m content_service.events.schemas [DIRECTORY]`` (default: the repository's
``events/schemas``). A test regenerates them and compares with the committed files.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from content_service.events.models import EVENT_MODELS

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
DEFAULT_DIRECTORY = Path(__file__).resolve().parents[3] / "events" / "schemas"


def schema_of(subject: str) -> dict[str, Any]:
    """The JSON Schema of one subject's envelope, with its dialect and a stable id."""
    schema = EVENT_MODELS[subject].model_json_schema(mode="serialization")
    return {"$schema": SCHEMA_DIALECT, "$id": f"urn:content-service:events:{subject}", **schema}


def rendered() -> dict[str, str]:
    """File name → file text for every subject (sorted keys, so the output is stable)."""
    return {
        f"{subject}.json": json.dumps(schema_of(subject), indent=2, sort_keys=True) + "\n"
        for subject in sorted(EVENT_MODELS)
    }


def write(directory: Path) -> list[Path]:
    """Write every schema into ``directory``; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in rendered().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DIRECTORY):
        print(path)
