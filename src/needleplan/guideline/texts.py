"""The patient-facing texts of the guideline and intake data files, for translation.

The guideline (``default.toml``) and the intake questionnaire (``intake.toml``) are the clinic's
data, worded in English. What a patient reads of them (the factor reasons and milestones on her
handout; the questionnaire's title, introduction, sections, questions, help and answer labels)
is listed here, so that ``make messages`` extracts it into the catalogue (``babel.cfg`` names
:func:`extract` for these files) and the pages look each text up in her language. A clinic's own
edited text that the catalogue does not hold prints as the clinic wrote it.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping
from typing import IO, Any

#: A citation key such as ``[seed-sessions]`` (never shown to patients).
CITATION = re.compile(r"\s*\[[a-z0-9-]+\](,\s*\[[a-z0-9-]+\])*")


def patient_reason(reason: str) -> str:
    """A guideline reason as a patient reads it: without its citation keys."""
    return CITATION.sub("", reason).strip()


def guideline_texts(data: Mapping[str, Any]) -> list[str]:
    """The guideline's texts a patient reads: each factor's reason, the milestones."""
    out: list[str] = []
    for factor in (data.get("factors") or {}).values():
        if isinstance(factor, Mapping) and isinstance(factor.get("reason"), str):
            out.append(patient_reason(factor["reason"]))
    milestones = (data.get("milestones") or {}).get("text") or []
    out.extend(m for m in milestones if isinstance(m, str))
    return out


def intake_texts(data: Mapping[str, Any]) -> list[str]:
    """The questionnaire's texts a patient reads (not the practitioner's review notes)."""
    out = [data[k] for k in ("title", "intro") if isinstance(data.get(k), str)]
    out.extend(s["title"] for s in data.get("sections") or [] if isinstance(s.get("title"), str))
    for q in data.get("questions") or []:
        out.extend(q[k] for k in ("text", "help") if isinstance(q.get(k), str) and q[k])
        out.extend(o["label"] for o in q.get("options") or [] if isinstance(o.get("label"), str))
    return out


def extract(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Mapping[str, Any]
) -> Iterator[tuple[int, str, str, list[str]]]:
    """Babel extraction method for the two data files (``babel.cfg``)."""
    raw = fileobj.read().decode("utf-8")
    data = tomllib.loads(raw)
    texts = intake_texts(data) if "questions" in data else guideline_texts(data)
    lines = raw.splitlines()
    for text in dict.fromkeys(texts):
        probe = text[:40]
        lineno = next((i + 1 for i, line in enumerate(lines) if probe in line), 1)
        yield lineno, "_", text, []


__all__ = ["CITATION", "extract", "guideline_texts", "intake_texts", "patient_reason"]
