from datetime import datetime, timezone

import pytest

from supportctl.config import instant, mask_url, parse_timestamp, parse_when, resolve, url_secrets
from supportctl.errors import InvalidInput


def test_mask_url_hides_the_password_and_secret_query_values():
    assert mask_url("postgresql://u:pw@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert mask_url("postgresql://u@h/db?password=pw&sslmode=require") == (
        "postgresql://u@h/db?password=***&sslmode=require"
    )
    assert url_secrets("postgresql://u:pw@h/db?sslpassword=k") == ["pw", "k"]


def test_timestamps_without_offset_are_utc_and_others_are_converted():
    assert parse_timestamp("2026-11-23T14:05:00") == datetime(2026, 11, 23, 14, 5, tzinfo=timezone.utc)
    assert parse_timestamp("2026-11-23T15:05:00+01:00") == datetime(2026, 11, 23, 14, 5, tzinfo=timezone.utc)
    with pytest.raises(InvalidInput):
        parse_timestamp("next tuesday")


def test_flag_or_env_beats_the_config_file_which_beats_the_embedded_default(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    kwargs = dict(from_env=False, actor="a", now=None, debug=False)
    assert resolve(database_url=None, **kwargs).embedded
    (tmp_path / "supportctl").mkdir()
    (tmp_path / "supportctl" / "config.toml").write_text('database_url = "postgresql://u:pw@cfg/db"\n')
    from_file = resolve(database_url=None, **kwargs)
    assert (from_file.database_url, from_file.database_source) == ("postgresql://u:pw@cfg/db", "config file")
    assert from_file.redact("x pw y") == "x *** y"
    assert resolve(database_url="postgresql://flag/db", **kwargs).database_url == "postgresql://flag/db"


def test_a_broken_config_file_is_invalid_input(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    (tmp_path / "supportctl").mkdir()
    (tmp_path / "supportctl" / "config.toml").write_text("database_url = \n")
    path = tmp_path / "supportctl" / "config.toml"
    with pytest.raises(InvalidInput, match=f"config file {path} is not valid TOML"):
        resolve(database_url=None, from_env=False, actor="a", now=None, debug=False)
    path.unlink()
    path.mkdir()  # there, but not a file
    with pytest.raises(InvalidInput, match=f"cannot read config file {path}: is a directory"):
        resolve(database_url=None, from_env=False, actor="a", now=None, debug=False)


def test_a_short_secret_is_masked_where_it_stands_alone_not_inside_words():
    settings = resolve(database_url="postgresql://u:pw@db/x", from_env=False, actor="a", now=None, debug=False)
    assert settings.redact("connection to postgresql://u:pw@db/x failed") == (
        "connection to postgresql://u:***@db/x failed")
    assert settings.redact("pwned: the password was wrong") == "pwned: the password was wrong"
    assert settings.redact('password "pw" refused') == 'password "***" refused'


def test_a_when_is_a_timestamp_or_a_span_back_from_now():
    now = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
    assert instant(parse_when("7d", "--since"), now) == datetime(2026, 11, 16, 10, 0, tzinfo=timezone.utc)
    assert instant(parse_when("12h", "--since"), now) == datetime(2026, 11, 22, 22, 0, tzinfo=timezone.utc)
    assert instant(parse_when("2026-11-01T00:00:00Z", "--since"), now) == datetime(2026, 11, 1, tzinfo=timezone.utc)
    with pytest.raises(InvalidInput, match="--since: 'last week' is neither an ISO 8601 timestamp nor a duration"):
        parse_when("last week", "--since")
