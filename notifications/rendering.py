"""Messages from templates: Jinja2, a subject, a plain-text and an HTML body per locale.

A locale without its own template falls back to English (the reason is visible: the message
says which locale it was rendered in). HTML is autoescaped; text is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    select_autoescape,
)

TEMPLATES = Path(__file__).with_name("templates")
FALLBACK = "en"


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    html: str
    locale: str


@cache
def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined,
                       autoescape=select_autoescape(enabled_extensions=("html.j2",),
                                                    default=False),
                       keep_trailing_newline=True)


def render(template: str, locale: str, variables: dict[str, str]) -> Message:
    """Raises TemplateNotFound for a template no locale has (a poison request)."""
    env = _environment()
    for candidate in dict.fromkeys((locale, FALLBACK)):
        try:
            subject = env.get_template(f"{candidate}/{template}.subject.j2")
        except TemplateNotFound:
            continue
        return Message(
            subject=subject.render(**variables).strip(),
            text=env.get_template(f"{candidate}/{template}.txt.j2").render(**variables),
            html=env.get_template(f"{candidate}/{template}.html.j2").render(**variables),
            locale=candidate)
    raise TemplateNotFound(f"{locale}/{template}")
