"""The exception tree. Each class carries its exit code (docs/output.md, "Exit codes").

    SupportctlError (70: a bug, unless a subclass says otherwise)
     ├── InvalidInput (2)         bad flag value, email, duration, CSV row
     ├── NotFound (3)             ticket, agent, customer
     ├── Refused (4)              a business rule or the role's permissions said no
     ├── DatabaseUnavailable (5)  cannot connect, or the embedded server cannot start
     │    └── SchemaOutdated (5)  the schema is behind the migration head
     └── LockBusy (6)             another run holds what this run needs

Exit 1 (`--fail-on-breach` listed rows) is not an error of supportctl and has no class:
the command exits 1 after printing what it found.

Services raise these; the CLI's one handler (cli/app.py) turns them into one line
on stderr and the exit code. Lower-level errors are chained with ``from exc``.
"""

from __future__ import annotations


class SupportctlError(Exception):
    exit_code = 70

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class InvalidInput(SupportctlError):
    exit_code = 2


class NotFound(SupportctlError):
    exit_code = 3


class Refused(SupportctlError):
    exit_code = 4


class DatabaseUnavailable(SupportctlError):
    exit_code = 5


class SchemaOutdated(DatabaseUnavailable):
    exit_code = 5


class LockBusy(SupportctlError):
    exit_code = 6


def not_utf8(exc: UnicodeDecodeError) -> str:
    return f"byte 0x{exc.object[exc.start]:02x} at position {exc.start + 1} is not UTF-8 (save it as UTF-8)"


def os_words(exc: OSError) -> str:
    """`no such file or directory`: the system's reason, as the middle of our sentence."""
    reason = exc.strerror or str(exc)
    return reason[:1].lower() + reason[1:]


def unreadable(what: str, exc: Exception) -> InvalidInput:
    """`cannot read nope.txt: no such file or directory`: an OSError or a decoding error in our
    words, never Python's (`[Errno 2] …`, `'utf-8' codec can't decode …`)."""
    if isinstance(exc, UnicodeDecodeError):
        reason = not_utf8(exc)
    elif isinstance(exc, OSError):
        reason = os_words(exc)
    else:
        reason = str(exc)
    return InvalidInput(f"cannot read {what}: {reason}")


# The csv module's complaints, in words a person fixing a spreadsheet export can act on.
_CSV_WORDS = {
    "new-line character seen in unquoted field": "a line break (a lone CR) inside a field that is not quoted",
    "field larger than field limit": "a field longer than the largest field allowed",
    "line contains NUL": "a NUL byte",
}


def csv_words(exc: Exception) -> str:
    text = str(exc)
    return next((words for start, words in _CSV_WORDS.items() if text.startswith(start)), text)
