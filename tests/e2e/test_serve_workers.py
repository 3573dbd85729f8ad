"""``v2v serve --workers 2``: processes that share nothing but the database (issue 15).

The real command is started on a free port of 127.0.0.1 against the test's database (SQLite file
and PostgreSQL). Each client below holds one keep-alive connection, and the test finds which
worker process accepted it (the worker holding the connection's socket, from ``/proc``), so it
can show, with a client on each worker:

- a session started through one worker is live on the other;
- a CSRF token of a page rendered by one worker is accepted by the other (and a wrong one is
  refused);
- row locks hold across processes: the same DIN assignment sent through both workers at once
  has exactly one effect; two DIN assignments at once on different orders get different DINs.

The server's process group is stopped at the end, whatever happened.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import pytest
from sqlalchemy import select
from tests.factories import PASSWORD
from tests.integration.identity import world as W
from tests.webclient import csrf_from

from vein2vein.identity.tables import IssuedDin, Order
from vein2vein.store import audit
from vein2vein.store.database import Database

pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")

COOKIE = re.compile(r"^([^=;]+)=([^;]*)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(db: Database) -> dict[str, str]:
    """The environment of the server's processes: the test's database (PostgreSQL: its schema,
    through libpq's ``PGOPTIONS``)."""
    env = {
        **os.environ,
        "V2V_DATABASE_URL": db.settings.database_url,
        "V2V_ENVIRONMENT": "test",
        "V2V_ARGON2_PROFILE": "fast-tests",
    }
    if db.schema:
        env["PGOPTIONS"] = f"-csearch_path={db.schema}"
    return env


@pytest.fixture
def server(db: Database, tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    port = free_port()
    env = server_env(db)
    log = (tmp_path / "server.log").open("wb")
    command = [sys.executable, "-m", "vein2vein", "serve", "--host", "127.0.0.1"]
    proc = subprocess.Popen(
        [*command, "--port", str(port), "--workers", "2"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the workers are stopped with it
    )
    try:
        wait_ready(port, proc, tmp_path / "server.log")
        yield port, proc
    finally:
        stop(proc)
        log.close()


def wait_ready(port: int, proc: subprocess.Popen[bytes], log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"v2v serve exited: {log.read_text()[-2000:]}"
        if len(workers_of(proc.pid)) >= 2:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/api/health")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            except OSError:
                pass
        time.sleep(0.2)
    raise AssertionError(f"v2v serve did not answer: {log.read_text()[-2000:]}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group, SIGKILL if it lingers."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + 10  # the workers end with the supervisor
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)


# --------------------------------------------------------------------------------------------
# which worker holds a connection (Linux /proc)
# --------------------------------------------------------------------------------------------


def workers_of(parent: int) -> list[int]:
    """The processes whose parent is ``parent``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == parent:
            found.append(int(entry.name))
    return found


def _inode(server_port: int, client_port: int) -> str | None:
    """The inode of the server's end of the connection from ``client_port``."""
    want_local = f"0100007F:{server_port:04X}"
    want_remote = f"0100007F:{client_port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        if parts[1] == want_local and parts[2] == want_remote:
            return parts[9]
    return None


def worker_holding(parent: int, server_port: int, client_port: int) -> int | None:
    inode = _inode(server_port, client_port)
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in workers_of(parent):
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    if os.readlink(fd) == target:
                        return pid
                except OSError:
                    continue
        except OSError:
            continue
    return None


@dataclass
class Pinned:
    """A browser with one keep-alive connection, pinned to the worker that accepted it (the
    session cookie is Secure: it is sent by hand over http, as a proxy in front would)."""

    port: int
    cookies: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        self.conn.connect()
        self.local_port = self.conn.sock.getsockname()[1]

    def request(
        self, method: str, path: str, form: dict[str, str] | None = None
    ) -> tuple[int, str]:
        headers = {"cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["content-type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        text = response.read().decode()
        assert response.getheader("connection", "").lower() != "close", "connection closed"
        for header in response.headers.get_all("set-cookie") or []:
            match = COOKIE.match(header)
            if match:
                self.cookies[match.group(1).strip()] = match.group(2)
        return response.status, text

    def login(self, username: str) -> str:
        """Log in; the CSRF token of the home page."""
        status, page = self.request("GET", "/login")
        assert status == 200
        form = {
            "username": username,
            "password": PASSWORD,
            "csrf_token": csrf_from(page),
            "next": "/",
        }
        status, _ = self.request("POST", "/login", form)
        assert status == 303, status
        status, home = self.request("GET", "/")
        assert status == 200
        return csrf_from(home)


def on_two_workers(port: int, parent: int, attempts: int = 200) -> tuple[Pinned, Pinned]:
    """Two clients whose connections two different workers accepted.

    The kernel hands a new connection to whichever worker's accept wins; on a loaded machine the
    worker that has just answered often wins again and again (seen: 40 in a row), so the next
    connection waits a moment for both workers to be idle in their event loops."""
    opened: dict[int, Pinned] = {}
    for attempt in range(attempts):
        if attempt:
            time.sleep(0.02)
        client = Pinned(port)
        client.request("GET", "/api/health")  # accepted and answered: the socket is a worker's
        pid = worker_holding(parent, port, client.local_port)
        assert pid is not None, "no worker holds the connection"
        opened.setdefault(pid, client)
        if len(opened) == 2:
            first, second = opened.values()
            return first, second
    raise AssertionError(f"every one of {attempts} connections went to the same worker")


def still_on(client: Pinned, parent: int, pid: int) -> None:
    assert worker_holding(parent, client.port, client.local_port) == pid


# --------------------------------------------------------------------------------------------


def test_sessions_csrf_and_locks_hold_across_workers(db: Database, server) -> None:  # type: ignore[no-untyped-def]
    port, proc = server
    w = W.build(db)
    orders = [W.order(w, W.enrol(w, subject=f"HLX-{n:03d}")) for n in range(1, 5)]
    a, b = on_two_workers(port, proc.pid)
    pid_a = worker_holding(proc.pid, port, a.local_port)
    pid_b = worker_holding(proc.pid, port, b.local_port)
    assert pid_a != pid_b

    # a session started through worker A is live on worker B
    csrf = a.login("operator")
    b.cookies = dict(a.cookies)
    status, page = b.request("GET", "/coi")
    assert status == 200 and "HLX-001" in page
    # the CSRF token of a page rendered by A is accepted by B; a wrong one is refused
    status, _ = b.request("POST", f"/coi/orders/{orders[0]}/din", {"csrf_token": "forged"})
    assert status == 403
    status, _ = b.request("POST", f"/coi/orders/{orders[0]}/din", {"csrf_token": csrf})
    assert status == 303

    # the same change through both workers at once: exactly one effect, the other refused
    same = f"/coi/orders/{orders[1]}/din"
    answers = both_at_once(a, b, same, same, csrf)
    assert sorted(status for status, _ in answers) == [303, 422], answers
    assert any("already has the apheresis DIN" in text for _, text in answers)
    # two changes at once on different orders: both done, the DIN counter's lock gives each
    # its own DIN
    answers = both_at_once(
        a, b, f"/coi/orders/{orders[2]}/din", f"/coi/orders/{orders[3]}/din", csrf
    )
    assert [status for status, _ in answers] == [303, 303]
    still_on(a, proc.pid, pid_a)
    still_on(b, proc.pid, pid_b)

    with db.read() as session:
        dins = {o.id: o.apheresis_din for o in session.scalars(select(Order))}
        issued = session.scalars(select(IssuedDin.din)).all()
        binds = [
            e.entity_id
            for e in audit.query(session, entity_type="coi_order")
            if e.action == "coi.order_bind_apheresis_din"
        ]
        assert audit.verify(session).ok
    assert sorted(binds) == sorted(str(oid) for oid in orders)  # one assignment each
    assert sorted(issued) == sorted(str(dins[oid]) for oid in orders)  # one DIN each
    assert len(set(issued)) == len(orders)  # all different


def both_at_once(
    a: Pinned, b: Pinned, path_a: str, path_b: str, csrf: str
) -> list[tuple[int, str]]:
    """POST ``path_a`` through A and ``path_b`` through B at the same moment; their answers."""
    start = threading.Barrier(2)
    answers: dict[str, tuple[int, str]] = {}

    def post(name: str, client: Pinned, path: str) -> None:
        start.wait(10)
        answers[name] = client.request("POST", path, {"csrf_token": csrf})

    threads = [
        threading.Thread(target=post, args=("a", a, path_a)),
        threading.Thread(target=post, args=("b", b, path_b)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return [answers["a"], answers["b"]]
