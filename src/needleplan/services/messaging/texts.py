"""The shipped message templates: Jinja2 files per kind in ``templates/``, rendered in her
language (``<kind>.txt`` with the blocks ``subject``, ``text`` and ``sms``; ``<kind>.html``,
autoescaped). Undefined placeholders raise :class:`TemplateRenderError` naming them.

Split from :mod:`.render` so that :mod:`.clinic_templates` (the clinic's own wording, which
falls back to these) and :mod:`.render` (which prefers the clinic's) import it without a cycle.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from needleplan import i18n
from needleplan.domain.language import SHIPPED_LANGUAGES
from needleplan.domain.messages import MessageKind

TEMPLATES = Path(__file__).with_name("templates")


class TemplateRenderError(Exception):
    """A template that does not render (names the template and the placeholder)."""


def _language(context: Any) -> str:
    lang = context.get("lang")
    return lang if isinstance(lang, str) and lang in SHIPPED_LANGUAGES else "en"


@jinja2.pass_context
def _gettext(context: Any, message: str) -> str:
    return i18n.gettext(_language(context), message)


@jinja2.pass_context
def _ngettext(context: Any, singular: str, plural: str, n: int) -> str:
    return i18n.ngettext(_language(context), singular, plural, n)


@cache
def _environments() -> tuple[jinja2.Environment, jinja2.Environment]:
    loader = jinja2.FileSystemLoader(str(TEMPLATES))
    plain = jinja2.Environment(
        loader=loader,
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.i18n"],
    )
    html = jinja2.Environment(
        loader=loader,
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
    )
    for env in (plain, html):
        env.install_gettext_callables(  # type: ignore[attr-defined]
            gettext=_gettext, ngettext=_ngettext, newstyle=True
        )
    return plain, html


def template_name(kind: MessageKind) -> str:
    return "recall" if kind is MessageKind.RECALL_NUDGE else kind.value


def render_texts(kind: MessageKind, context: dict[str, Any]) -> tuple[str, str, str, str]:
    """``(subject, text, sms, html)`` of ``kind`` with ``context`` (in ``context["lang"]``,
    English when it names none).

    Raises
    ------
    TemplateRenderError
        naming the template and what is wrong (an undefined placeholder, a syntax error).
    """
    plain, html = _environments()
    name = template_name(kind)
    context = {"lang": "en", **context}
    try:
        tmpl = plain.get_template(f"{name}.txt")
        ctx = tmpl.new_context(context)
        parts = {b: "".join(tmpl.blocks[b](ctx)).strip() for b in ("subject", "text", "sms")}
        page = html.get_template(f"{name}.html").render(context)
    except jinja2.TemplateError as exc:
        raise TemplateRenderError(f"template {name}: {exc.__class__.__name__}: {exc}") from None
    return parts["subject"], parts["text"] + "\n", parts["sms"], page


__all__ = ["TEMPLATES", "TemplateRenderError", "render_texts", "template_name"]
