"""`notify send` end to end: a real SMTP server and a real HTTP receiver, both tiny, on 127.0.0.1.

Each server runs in a thread of the test process, stops when its test ends, and
gives up on a silent client after a few seconds, so nothing here can hang.
"""

import base64
import hashlib
import hmac
import json
import os
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import contextmanager
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import text

from tests.helpers import NOW
from tests.processes import run_at_once

SECRET = "test-webhook-secret"
DELIVERY_VARS = ("SUPPORTCTL_SMTP_URL", "SUPPORTCTL_SMTP_FROM", "SUPPORTCTL_WEBHOOK_URL", "SUPPORTCTL_WEBHOOK_SECRET")


@pytest.fixture(autouse=True)
def no_delivery_settings(monkeypatch):
    for var in DELIVERY_VARS + ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1")


# -- a tiny SMTP server: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT --


class _SmtpHandler(socketserver.StreamRequestHandler):
    timeout = 5  # a silent client is dropped

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        box = self.server.box
        self.reply("220 127.0.0.1 test SMTP")
        envelope = {"from": None, "to": []}
        while line := self.rfile.readline(4096):
            verb = line.decode(errors="replace").strip().split(" ", 1)[0].split(":", 1)[0].upper()
            refusal = box.refuse.get(verb)
            if verb == "EHLO":
                self.reply("250-127.0.0.1\r\n250 8BITMIME")
            elif verb in ("HELO", "RSET", "NOOP"):
                self.reply("250 OK")
            elif verb == "MAIL":
                envelope = {"from": line.decode().split(":", 1)[1].strip(), "to": []}
                self.reply("250 OK")
            elif verb == "RCPT" and refusal:
                self.reply(refusal)
                if refusal.startswith("421"):
                    return
            elif verb == "RCPT":
                envelope["to"].append(line.decode().split(":", 1)[1].strip().strip("<>"))
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 go ahead")
                body = b""
                while (chunk := self.rfile.readline(65536)) not in (b".\r\n", b""):
                    body += chunk
                if refusal:
                    self.reply(refusal)
                    if refusal.startswith("421"):
                        return
                else:
                    box.messages.append({**envelope, "data": body.decode()})
                    self.reply("250 queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")


class Box:
    def __init__(self) -> None:
        self.refuse: dict[str, str] = {}  # verb -> reply, e.g. {"RCPT": "550 5.1.1 no such user"}
        self.messages: list[dict] = []


@contextmanager
def serving(server):
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def smtp_server(monkeypatch):
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SmtpHandler)
    server.daemon_threads = True
    server.box = Box()
    with serving(server):
        monkeypatch.setenv("SUPPORTCTL_SMTP_URL", f"smtp://127.0.0.1:{server.server_address[1]}")
        monkeypatch.setenv("SUPPORTCTL_SMTP_FROM", "support@example.com")
        yield server.box


# -- a tiny webhook receiver: checks the signature, counts delivery ids --


class _HookHandler(BaseHTTPRequestHandler):
    timeout = 5

    def do_POST(self) -> None:
        hook = self.server.hook
        body = self.rfile.read(int(self.headers["Content-Length"]))
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        with hook.lock:
            hook.bodies.append(json.loads(body))
            hook.deliveries[self.headers["X-Supportctl-Delivery"]] += 1
            hook.bad_signatures += self.headers["X-Supportctl-Signature"] != expected
            hook.authorizations.append(self.headers.get("Authorization"))
            drop = hook.drop > 0
            hook.drop -= drop
        hook.received.set()
        if drop:  # the connection breaks before any answer
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        hook.release.wait(10)  # a crash test holds the reply back while it kills the sender
        time.sleep(hook.delay)
        try:
            self.send_response(hook.status)
            self.send_header("Content-Length", "0")
            self.end_headers()
        except OSError:  # the sender was killed meanwhile
            pass

    def log_message(self, *args) -> None:
        pass


class Hook:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.bodies: list[dict] = []
        self.deliveries: Counter = Counter()
        self.bad_signatures = 0
        self.status = 200
        self.delay = 0.0
        self.drop = 0  # how many of the next requests lose their connection
        self.authorizations: list[str | None] = []
        self.received = threading.Event()
        self.release = threading.Event()
        self.release.set()


@pytest.fixture
def webhook(monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HookHandler)
    server.daemon_threads = True
    server.hook = Hook()
    with serving(server):
        monkeypatch.setenv("SUPPORTCTL_WEBHOOK_URL", f"http://127.0.0.1:{server.server_address[1]}/hooks/supportctl")
        monkeypatch.setenv("SUPPORTCTL_WEBHOOK_SECRET", SECRET)
        yield server.hook


# -- helpers --


def at(minutes: float = 0) -> str:
    return (NOW + timedelta(minutes=minutes)).isoformat()


def send(cli, minutes: float = 0):
    result = cli("notify send", now=at(minutes))
    assert result.exit_code == 0, result.stderr
    return result.stderr


def outbox(cli):
    return json.loads(cli("notify list --format json").stdout)


def resolve_a_ticket(cli) -> int:
    created = cli("ticket create --title 'Cannot log in' --customer ana@example.com", now=at())
    ticket_id = int(created.stdout)
    assert cli(f"ticket update {ticket_id} --status resolved", now=at()).exit_code == 0
    return ticket_id


def queue_pending(engine, count: int) -> None:
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO notifications (created_at, recipient, template, data, next_attempt_at) "
            "SELECT :t, 'agent' || n || '@example.com', 'ticket_assigned', jsonb_build_object('ticket_id', n, "
            "'title', 'Ticket ' || n, 'priority', 'high', 'status', 'open', 'agent_name', 'A', 'agent_email', 'a', "
            "'response_due_at', '-', 'resolution_due_at', '-'), :t FROM generate_series(1, :n) AS n"
        ), {"t": NOW, "n": count})


# -- SMTP --


def test_a_real_smtp_server_receives_the_customer_mail_for_a_resolved_ticket(cli, smtp_server):
    ticket_id = resolve_a_ticket(cli)
    assert "sent 1, failed 0 (will retry 0)" in send(cli)
    [mail] = smtp_server.messages
    assert mail["to"] == ["ana@example.com"]
    assert f"Subject: [#{ticket_id}] Resolved: Cannot log in" in mail["data"]
    assert "X-Supportctl-Template: ticket_resolved" in mail["data"]
    [row] = outbox(cli)
    assert f"X-Supportctl-Delivery: {row['delivery_id']}" in mail["data"]
    assert row["status"] == "sent"


@pytest.mark.parametrize("verb, refusal", [
    ("RCPT", "451 4.3.0 try again later"),
    ("RCPT", "421 4.3.2 shutting down"),
    ("DATA", "452 4.3.1 insufficient storage"),
    ("DATA", "421 4.4.2 timeout"),
])
def test_a_passing_smtp_refusal_leaves_the_notification_pending_and_the_next_due_run_retries_it(
        cli, smtp_server, verb, refusal):
    resolve_a_ticket(cli)
    smtp_server.refuse[verb] = refusal
    assert "sent 0, failed 1 (will retry 1)" in send(cli)
    [row] = outbox(cli)
    assert (row["status"], row["attempts"], row["next_attempt_at"]) == ("pending", 1, "2026-11-23T10:01:00Z")
    assert refusal.split()[0] in row["last_error"] and refusal.split()[-1] in row["last_error"]
    smtp_server.refuse.clear()
    assert "sent 0, failed 0" in send(cli, minutes=0.5)  # not due yet
    assert "sent 1, failed 0" in send(cli, minutes=1)
    [row] = outbox(cli)
    assert (row["status"], row["attempts"], row["last_error"]) == ("sent", 2, None)
    assert [m["to"] for m in smtp_server.messages] == [["ana@example.com"]]


@pytest.mark.parametrize("verb, refusal", [("RCPT", "550 5.1.1 no such user"), ("DATA", "554 5.7.1 message refused")])
def test_a_final_smtp_refusal_marks_the_notification_failed_at_once(cli, smtp_server, verb, refusal):
    resolve_a_ticket(cli)
    smtp_server.refuse[verb] = refusal
    assert "sent 0, failed 1 (will retry 0), 1 marked failed" in send(cli)
    [row] = outbox(cli)
    assert (row["status"], row["attempts"]) == ("failed", 1)
    assert refusal.split()[0] in row["last_error"]


def test_retries_back_off_exponentially_then_the_notification_is_marked_failed(cli, smtp_server):
    resolve_a_ticket(cli)
    smtp_server.refuse["RCPT"] = "451 4.3.0 try again later"
    minutes, waits = 0, []
    for _ in range(8):
        send(cli, minutes)
        [row] = outbox(cli)
        next_at = datetime.fromisoformat(row["next_attempt_at"])
        waits.append((next_at - NOW).total_seconds() / 60 - minutes)
        minutes = (next_at - NOW).total_seconds() / 60
    assert waits[:7] == [1, 2, 4, 8, 16, 32, 60]
    assert (row["status"], row["attempts"]) == ("failed", 8)
    assert "451" in row["last_error"]
    assert "sent 0, failed 0" in send(cli, minutes + 600)  # failed for good: never tried again


def test_an_unreachable_smtp_server_stops_the_run_after_one_attempt(cli, monkeypatch):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("SUPPORTCTL_SMTP_URL", f"smtp://127.0.0.1:{port}")
    resolve_a_ticket(cli)
    resolve_a_ticket(cli)
    stderr = send(cli)
    assert "cannot reach the SMTP server at smtp://127.0.0.1" in stderr and "stopped early" in stderr
    assert [(r["status"], r["attempts"]) for r in outbox(cli)] == [("pending", 1), ("pending", 0)]


# -- webhook --


def test_the_webhook_post_is_signed_and_names_its_delivery_id(cli, webhook):
    ticket_id = resolve_a_ticket(cli)
    assert "sent 1, failed 0" in send(cli)
    [row] = outbox(cli)
    [body] = webhook.bodies
    assert webhook.bad_signatures == 0
    assert list(webhook.deliveries) == [row["delivery_id"]] == [body["delivery_id"]]
    assert (body["template"], body["recipient"], body["data"]["ticket_id"]) == (
        "ticket_resolved", "ana@example.com", ticket_id)
    assert body["subject"] == f"[#{ticket_id}] Resolved: Cannot log in"


def test_a_webhook_that_answers_an_error_is_retried_later(cli, webhook):
    resolve_a_ticket(cli)
    webhook.status = 503
    assert "sent 0, failed 1 (will retry 1)" in send(cli)
    [row] = outbox(cli)
    assert "HTTP 503" in row["last_error"]
    webhook.status = 204
    assert "sent 1, failed 0" in send(cli, minutes=1)
    assert list(webhook.deliveries.values()) == [2]  # the same delivery id both times


@pytest.mark.parametrize("status", [410, 404, 400])
def test_a_webhook_that_says_no_for_good_marks_the_notification_failed_at_once(cli, webhook, status):
    resolve_a_ticket(cli)
    webhook.status = status
    assert "sent 0, failed 1 (will retry 0), 1 marked failed" in send(cli)
    [row] = outbox(cli)
    assert (row["status"], row["attempts"]) == ("failed", 1)
    assert f"HTTP {status}" in row["last_error"]


def test_one_dropped_connection_costs_one_notification_a_retry_not_the_whole_run(cli, webhook):
    for _ in range(3):
        resolve_a_ticket(cli)
    webhook.drop = 1
    stderr = send(cli)
    assert "sent 2, failed 1 (will retry 1)" in stderr and "stopped early" not in stderr
    assert sorted(r["status"] for r in outbox(cli)) == ["pending", "sent", "sent"]


def test_a_webhook_url_with_user_and_password_sends_them_as_basic_auth(cli, webhook, monkeypatch):
    url = os.environ["SUPPORTCTL_WEBHOOK_URL"].replace("http://", "http://hook%40user:s%3Acret@")
    monkeypatch.setenv("SUPPORTCTL_WEBHOOK_URL", url)
    resolve_a_ticket(cli)
    stderr = send(cli)
    assert "sent 1, failed 0" in stderr
    assert webhook.authorizations == ["Basic " + base64.b64encode(b"hook@user:s:cret").decode()]
    assert "s%3Acret" not in stderr and "s:cret" not in stderr


@pytest.mark.slow
@pytest.mark.parametrize("round_", range(3))
def test_two_senders_at_once_deliver_each_of_100_notifications_exactly_once(round_, database_url, engine, webhook):
    queue_pending(engine, 100)
    webhook.delay = 0.002  # long enough for the two senders to overlap
    env = {"SUPPORTCTL_DATABASE_URL": database_url, "SUPPORTCTL_NOW": NOW.isoformat(), **{
        var: os.environ[var] for var in ("SUPPORTCTL_WEBHOOK_URL", "SUPPORTCTL_WEBHOOK_SECRET")}}
    outcomes = run_at_once(["notify", "send"], env, processes=2)
    assert [code for code, _, _ in outcomes] == [0, 0], [err for _, _, err in outcomes]
    assert len(webhook.deliveries) == 100
    assert set(webhook.deliveries.values()) == {1}
    assert webhook.bad_signatures == 0
    sent = [int(err.split("sent ")[1].split(",")[0]) for _, _, err in outcomes]
    assert sum(sent) == 100
    with engine.connect() as conn:
        states = conn.execute(text("SELECT status, attempts, count(*) FROM notifications GROUP BY 1, 2")).all()
    assert [tuple(r) for r in states] == [("sent", 1, 100)]


@pytest.mark.slow
def test_a_sender_killed_after_delivering_resends_with_the_same_delivery_id(cli, database_url, webhook):
    resolve_a_ticket(cli)
    webhook.release.clear()  # hold the reply: the sender has delivered but not committed
    env = {**os.environ, "SUPPORTCTL_NOW": NOW.isoformat()}
    sender = subprocess.Popen([sys.executable, "-m", "supportctl", "notify", "send"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert webhook.received.wait(20)
        os.kill(sender.pid, signal.SIGKILL)
    finally:
        sender.wait(20)
        webhook.release.set()
    [row] = outbox(cli)
    assert (row["status"], row["attempts"]) == ("pending", 0)
    assert "sent 1, failed 0" in send(cli)
    assert dict(webhook.deliveries) == {row["delivery_id"]: 2}  # the receiver can drop the second
