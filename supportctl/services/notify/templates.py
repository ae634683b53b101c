"""The templates notifications are rendered with, at delivery time.

Rendering late means a template fixed after a failure is the one the retry uses.
Each is a plain-text file: a ``Subject:`` line, a blank line, then the body, with
``string.Template`` placeholders ($ticket_id, $title …) filled from the row's data.
``<config dir>/templates/NAME.txt`` overrides the copy shipped in the package.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from importlib import resources
from typing import Any

from supportctl.config import config_dir

# Template names become file names: nothing that could leave the templates folder.
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


class TemplateError(Exception):
    """A template is missing or does not fit its data; the notification is retried later."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


def template_text(name: str) -> str:
    """The override in the config directory, else the copy shipped in the package."""
    if not _NAME.fullmatch(name):
        raise TemplateError(f"template name {name!r} is not valid")
    override = config_dir() / "templates" / f"{name}.txt"
    try:
        return override.read_text(encoding="utf-8")
    except FileNotFoundError:
        pass
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(f"cannot read template {override}: {exc}") from exc
    shipped = resources.files("supportctl") / "templates" / f"{name}.txt"
    try:
        return shipped.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TemplateError(f"no template {name!r} (add {override})") from None


def render(name: str, data: dict[str, Any], recipient: str) -> Rendered:
    if not isinstance(data, dict):
        raise TemplateError(f"the notification's data is not a JSON object: {data!r:.80}")
    first, _, rest = template_text(name).partition("\n")
    if not first.lower().startswith("subject:"):
        raise TemplateError(f"template {name!r} must start with a 'Subject:' line")
    values = {k: "(none)" if v is None else str(v) for k, v in data.items()}
    values.setdefault("recipient", recipient)
    try:
        subject = string.Template(first[len("subject:"):]).substitute(values)
        body = string.Template(rest.lstrip("\r\n")).substitute(values)
    except KeyError as exc:
        raise TemplateError(f"template {name!r} uses ${exc.args[0]}, which this notification has no value for") from None
    except ValueError as exc:
        raise TemplateError(f"template {name!r}: {exc}") from None
    # Filled in after the split: a title with a line break must not become a second header.
    return Rendered(subject=" ".join(subject.split()), body=body)
