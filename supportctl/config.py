"""Settings: flags > environment > config file > the embedded default.

Typer reads each flag and its environment variable; this module adds the
config file (``$XDG_CONFIG_HOME/supportctl/config.toml``) and the parsing and
masking rules shared by every command. It imports nothing heavy, so that
``supportctl --help`` stays fast.
"""

from __future__ import annotations

import getpass
import os
import re
import sys
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from supportctl.constants import EnvVars
from supportctl.errors import InvalidInput, unreadable

# Query-string keys that carry secrets in libpq URLs.
_SECRET_KEYS = {"password", "sslpassword", "passfile", "sslkey"}


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(Path.home(), ".config")
    return Path(base) / "supportctl"


def config_file() -> Path:
    return config_dir() / "config.toml"


CONFIG_KEYS = ("database_url", "me")


def read_config_file(path: Path | None = None) -> dict:
    """The config file's settings ({} without one); a key it does not know is warned of on stderr."""
    path = path or config_file()
    try:
        with open(path, "rb") as fh:
            values = tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise InvalidInput(unreadable(f"config file {path}", exc).message, hint="fix or remove it") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"config file {path} is not valid TOML: {exc}", hint="fix or remove it") from exc
    unknown = sorted(set(values) - set(CONFIG_KEYS))
    if unknown:
        sys.stderr.write(f"supportctl: warning: config file {path}: unknown key{'s' if len(unknown) > 1 else ''} "
                         f"{', '.join(unknown)} (known: {', '.join(CONFIG_KEYS)})\n")
    return values


def me() -> str:
    """The email `me` stands for: SUPPORTCTL_ME, else `me = "…"` in the config file (exit 2 if neither)."""
    email = os.environ.get(EnvVars.ME) or read_config_file().get("me")
    if not email:
        raise InvalidInput(f"'me' needs your agent's email: set {EnvVars.ME}, or me = \"you@example.com\" in "
                           f"{config_file()}")
    return email


@dataclass(frozen=True)
class Settings:
    """What every command needs to know before it touches the database."""

    database_url: str | None  # None: the embedded server
    database_source: str  # "--database-url", "SUPPORTCTL_DATABASE_URL", "config file", "embedded"
    actor: str
    fixed_now: datetime | None = None  # --now / SUPPORTCTL_NOW; None means the real clock
    debug: bool = False
    read_database_url: str | None = None
    secrets: tuple[str, ...] = field(default=(), repr=False)

    def now(self) -> datetime:
        """The time that stamps every write: --now when given, else the clock (whole seconds)."""
        return self.fixed_now or datetime.now(timezone.utc).replace(microsecond=0)

    @property
    def embedded(self) -> bool:
        return self.database_url is None

    def redact(self, text: str) -> str:
        """Remove every secret this run knows of from text meant for a person.

        A secret is masked where it stands as a whole (between characters that are not
        letters or digits, as in a URL, a query string or quotes), never inside a word: a
        password "pw" blanked in "pwned" would mangle the message and tell the password.
        """
        for secret in sorted(self.secrets, key=len, reverse=True):  # "abc" before "ab"
            text = re.sub(rf"(?<![^\W_]){re.escape(secret)}(?![^\W_])", "***", text)
        return text


def resolve(
    *,
    database_url: str | None,
    from_env: bool,
    actor: str | None,
    now: str | None,
    debug: bool,
) -> Settings:
    """Build Settings from the global options (flag or env already merged by Typer)."""
    source = EnvVars.DATABASE_URL if from_env else "--database-url"
    if not database_url:
        database_url = read_config_file().get("database_url") or None
        source = "config file" if database_url else "embedded"
    read_url = os.environ.get(EnvVars.READ_DATABASE_URL) or None
    secrets = tuple(s for url in (database_url, read_url) if url for s in url_secrets(url))
    secrets += _delivery_secrets()
    return Settings(
        database_url=database_url,
        database_source=source,
        actor=actor or _login_name(),
        fixed_now=parse_now(now) if now else None,
        debug=debug,
        read_database_url=read_url,
        secrets=secrets,
    )


def _delivery_secrets() -> tuple[str, ...]:
    """`notify send`'s SMTP password and webhook secret (env only: never a flag), masked like the database's."""
    found = [os.environ.get(EnvVars.WEBHOOK_SECRET) or ""]
    for var in (EnvVars.SMTP_URL, EnvVars.WEBHOOK_URL):
        try:
            found += [v for s in url_secrets(os.environ.get(var) or "") for v in (s, unquote(s))]
        except ValueError:  # a malformed URL: `notify send` says so; nothing to mask
            pass
    return tuple(s for s in found if s)


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. an arbitrary uid in a container
        return f"uid{os.getuid()}"


def parse_timestamp(text: str, what: str = "timestamp") -> datetime:
    """ISO 8601 to an aware UTC datetime; a time without an offset is taken as UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidInput(
            f"{what}: {text!r} is not an ISO 8601 timestamp", hint="e.g. 2026-11-23T14:05:00Z"
        ) from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:  # e.g. 9999-12-31T23:00:00-12:00 is past the last representable instant
        raise InvalidInput(f"{what}: {text!r} is out of range", hint="e.g. 2026-11-23T14:05:00Z") from None


When = datetime | timedelta  # an instant, or a span back from now


def parse_when(text: str, what: str) -> When:
    """A --since / --until value: an ISO 8601 timestamp, or a duration back from now (7d, 4w, 12h)."""
    from supportctl.domain.durations import parse_duration

    try:
        return parse_duration(text)
    except ValueError:
        pass
    try:
        return parse_timestamp(text, what)
    except InvalidInput:
        raise InvalidInput(f"{what}: {text!r} is neither an ISO 8601 timestamp nor a duration",
                           hint="e.g. 2026-11-23T14:05:00Z, or 7d for seven days ago") from None


def instant(when: When | None, now: datetime) -> datetime | None:
    """The instant a parsed --since / --until names, `now` being the command's."""
    return now - when if isinstance(when, timedelta) else when


# Every write is stamped with `now`, and due dates, at-risk windows (up to 100 years) and
# business-hours walks count on from it: far from today they leave what Python can represent.
EARLIEST_NOW = datetime(1900, 1, 1, tzinfo=timezone.utc)
LATEST_NOW = datetime(9000, 1, 1, tzinfo=timezone.utc)


def parse_now(text: str) -> datetime:
    value = parse_timestamp(text, "--now")
    if not EARLIEST_NOW <= value < LATEST_NOW:
        raise InvalidInput(f"--now: {text!r} is out of range (1900-01-01 to 9000-01-01)",
                           hint="e.g. 2026-11-23T14:05:00Z")
    return value


def url_secrets(url: str) -> list[str]:
    parts = urlsplit(url)
    # As written and as the server gets it (percent-decoded): either could end up in a message.
    found = list(dict.fromkeys([parts.password, unquote(parts.password)])) if parts.password else []
    found += [v for k, v in parse_qsl(parts.query) if k.lower() in _SECRET_KEYS and v]
    return found


def mask_url(url: str) -> str:
    """The URL as it may be shown: password and secret query values replaced by ***."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password:
        userinfo, _, hostinfo = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{hostinfo}"
    query = urlencode(
        [(k, "***" if k.lower() in _SECRET_KEYS else v) for k, v in parse_qsl(parts.query)],
        safe="/*",
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
