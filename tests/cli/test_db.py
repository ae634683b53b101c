import json


def test_db_status_of_an_external_database_shows_where_it_is_and_that_it_is_at_head(cli, database_url):
    result = cli("db status --format json")
    assert result.exit_code == 0, result.stderr
    [status] = json.loads(result.stdout)
    assert status["mode"] == "external"
    assert status["configured_by"] == "SUPPORTCTL_DATABASE_URL"
    assert status["current_revision"] == status["head_revision"]
    assert status["up_to_date"] is True
    assert status["server_version"].split(".")[0].isdigit()


def test_db_upgrade_at_head_changes_nothing_and_says_so(cli):
    result = cli("db upgrade")
    assert result.exit_code == 0
    assert "already at head" in result.stderr


def test_db_upgrade_brings_an_empty_database_to_head(new_database, monkeypatch):
    from typer.testing import CliRunner

    from supportctl.cli.app import app

    monkeypatch.setenv("SUPPORTCTL_DATABASE_URL", new_database(migrated=False))
    runner = CliRunner()
    upgraded = runner.invoke(app, ["db", "upgrade"])
    listed = runner.invoke(app, ["customer", "list", "--format", "json"])
    assert upgraded.exit_code == 0 and "upgraded empty database ->" in upgraded.stderr
    assert (listed.exit_code, listed.stdout) == (0, "[]\n")


def test_db_stop_refuses_to_stop_an_external_database(cli):
    result = cli("db stop")
    assert result.exit_code == 4
    assert "only stops its embedded server" in result.stderr
