"""Benchmark: pages under load on PostgreSQL, idle and while a 5,000-order plan is computed
(issue 15, target 4).

A PostgreSQL database of its own (created on the server of ``--pg``, dropped at the end unless
``--keep``) gets the store of ``bench/page_latency.py`` (its ``make_store``: the demo plus
5,000 orders made through the identity services). For each ``--workers`` count, ``v2v serve
--workers N`` is started on 127.0.0.1 and ``--users`` logged-in users (sessions of the demo's
CDMO users, each with its own connection) read, as fast as the answers come, rounds of:

    /coi                        the orders in flight (every order of the store)
    /coi/orders/{id}            one order (a random one of the store)
    /clinical/studies/{id}      one study with its readout (a random one of the demo's)
    /schedule                   the published plan
    /api/health                 the health endpoint, on the same server under the same load

0. one user alone: ``--rounds-alone`` rounds (what each page costs without a queue);
1. idle: ``--rounds`` rounds per user;
2. computing: while a QA approver computes a CP-SAT draft over every order of the store
   (``POST /api/schedule/drafts``), ``--computes`` times, each user reads round after round
   until the draft is done (and at most ``--rounds-computing`` rounds).

Every request has a time-out and each phase a fixed upper bound of requests; the script stops by
itself. A request that fails, times out or answers anything but 200 is an error. Printed and
appended to bench/RESULTS.md: p50/p95 per page, the ratio of each page's p95 to the health
endpoint's p95 in the same phase (target: at most 3), reads per second and errors.

    python bench/pages_under_load.py                            # 5,000 orders, workers 1 and 2
    python bench/pages_under_load.py --orders 500 --users 10 --workers 2 --no-record
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from _machine import cpu_name, nproc
from page_latency import CSRF, DEMO_PASSWORD, Browser, free_port, make_store, wait_ready

RESULTS = Path(__file__).with_name("RESULTS.md")
READERS = ("admin", "operator", "qc", "qa.reviewer", "qa.approver")  # the demo's CDMO users
PLANNER = "qa.approver"
PAGES = ("/coi", "/coi/orders/{id}", "/clinical/studies/{id}", "/schedule", "/api/health")
HEALTH = "/api/health"
TARGET_RATIO = 3.0


# --------------------------------------------------------------------------------------------
# the database
# --------------------------------------------------------------------------------------------


def admin_engine(pg: str):  # type: ignore[no-untyped-def]
    from sqlalchemy import create_engine

    from vein2vein.store.engine import normalise_url

    return create_engine(normalise_url(f"{pg}/postgres"), isolation_level="AUTOCOMMIT")


def database_exists(pg: str, name: str) -> bool:
    from sqlalchemy import text

    engine = admin_engine(pg)
    with engine.connect() as conn:
        found = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
    engine.dispose()
    return bool(found)


def create_database(pg: str, name: str) -> None:
    from sqlalchemy import text

    engine = admin_engine(pg)
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()


def drop_database(pg: str, name: str) -> None:
    from sqlalchemy import text

    engine = admin_engine(pg)
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def ids_to_read(url: str) -> tuple[list[int], list[int]]:
    """Every order id and every study id of the store."""
    from sqlalchemy import create_engine, text

    from vein2vein.store.engine import normalise_url

    engine = create_engine(normalise_url(url))
    with engine.connect() as conn:
        orders = list(conn.scalars(text("SELECT id FROM coi_order ORDER BY id")))
        studies = list(conn.scalars(text("SELECT id FROM clinical_study ORDER BY id")))
    engine.dispose()
    return orders, studies


# --------------------------------------------------------------------------------------------
# the server
# --------------------------------------------------------------------------------------------


def start_server(env: dict[str, str], port: int, workers: int) -> subprocess.Popen[bytes]:
    log = os.environ.get("BENCH_SERVER_LOG", os.devnull)
    command = [sys.executable, "-m", "vein2vein", "serve", "--host", "127.0.0.1"]
    return subprocess.Popen(
        [*command, "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(log, "a"),
        start_new_session=True,  # its own process group: the workers are stopped with it
    )


def stop_server(server: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
    except ProcessLookupError:
        pass


# --------------------------------------------------------------------------------------------
# users: each a session and a connection of its own
# --------------------------------------------------------------------------------------------


@dataclass
class User:
    client: httpx.AsyncClient
    cookies: dict[str, str] = field(default_factory=dict)

    async def request(self, method: str, path: str, **kw: object) -> httpx.Response:
        # the session cookie is Secure: sent by hand over http (as a proxy in front would)
        headers = {"cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        response = await self.client.request(method, path, headers=headers, **kw)  # type: ignore[arg-type]
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response

    async def login(self, username: str) -> None:
        page = await self.request("GET", "/login")
        form = {
            "username": username,
            "password": DEMO_PASSWORD,
            "csrf_token": CSRF.search(page.text).group(1),  # type: ignore[union-attr]
            "next": "/",
        }
        await self.request("POST", "/login", data=form)
        home = await self.request("GET", "/")
        if home.status_code != 200:
            raise SystemExit(f"log-in of {username} failed: {home.status_code}")


@dataclass
class Samples:
    seconds: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, int] = field(default_factory=dict)  # what the errors were
    examples: dict[str, str] = field(default_factory=dict)  # the first of each kind, in full
    wall: float = 0.0

    def add(self, page: str, seconds: float, error: str | None) -> None:
        self.seconds.setdefault(page, []).append(seconds)
        if error is not None:
            self.errors[page] = self.errors.get(page, 0) + 1
            self.kinds[error] = self.kinds.get(error, 0) + 1

    def p(self, page: str, q: float) -> float:
        values = sorted(self.seconds.get(page, []))
        if not values:
            return float("nan")
        if q == 0.5:
            return statistics.median(values)
        return values[min(len(values) - 1, round(q * (len(values) - 1)))]

    @property
    def total_errors(self) -> int:
        return sum(self.errors.values())

    def page_reads(self) -> int:
        return sum(len(v) for k, v in self.seconds.items() if k != HEALTH)


async def user_rounds(
    user: User,
    rng: random.Random,
    ids: tuple[list[int], list[int]],
    samples: Samples,
    rounds: int,
    timeout: float,
    until: threading.Event | None,
) -> None:
    orders, studies = ids
    for _ in range(rounds):
        pages = list(PAGES)
        rng.shuffle(pages)
        for page in pages:
            if until is not None and until.is_set():
                return
            path = page.format(id=rng.choice(orders if "orders" in page else studies))
            clock = time.perf_counter()
            error = None
            try:
                status = (await user.request("GET", path, timeout=timeout)).status_code
                error = None if status == 200 else f"HTTP {status}"
            except httpx.HTTPError as exc:  # a time-out, or the server gave up on the request
                error = type(exc).__name__
                samples.examples.setdefault(error, f"{path}: {exc!r}")
            samples.add(page, time.perf_counter() - clock, error)


async def phase(
    users: list[User],
    ids: tuple[list[int], list[int]],
    rounds: int,
    timeout: float,
    seed: int,
    samples: Samples,
    until: threading.Event | None = None,
) -> None:
    clock = time.perf_counter()
    await asyncio.gather(
        *(
            user_rounds(u, random.Random(seed * 1000 + n), ids, samples, rounds, timeout, until)
            for n, u in enumerate(users)
        )
    )
    samples.wall += time.perf_counter() - clock


def compute_plan(base: str, method: str, time_limit: float, done: threading.Event) -> dict:
    """Log in the planner and compute a draft over every order (in a thread of its own)."""
    outcome: dict[str, object] = {}
    try:
        planner = Browser(base, 300).login(PLANNER)
        clock = time.perf_counter()
        r = planner.request(
            "POST",
            "/api/schedule/drafts",
            json={"method": method, "time_limit": time_limit, "mode": "plan"},
            timeout=300,
        )
        outcome.update(status=r.status_code, seconds=time.perf_counter() - clock)
        if r.status_code == 201:
            outcome["after"] = r.json().get("after", {})
        else:  # what the server said, so that a refused draft is explained in the results
            outcome["refusal"] = " ".join(r.text.split())[:300]
    finally:
        done.set()
    return outcome


async def measure(
    base: str, ids: tuple[list[int], list[int]], args: argparse.Namespace
) -> tuple[Samples, Samples, Samples, list[dict]]:
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    users = [
        User(httpx.AsyncClient(base_url=base, timeout=args.timeout, limits=limits))
        for _ in range(args.users)
    ]
    try:
        for n, user in enumerate(users):
            await user.login(READERS[n % len(READERS)])
        # warm: every worker has compiled its templates and opened its connections
        await phase(users, ids, 1, args.timeout, args.seed + 99, Samples())
        alone = Samples()  # one user: what each page costs the server without a queue
        await phase(users[:1], ids, args.rounds_alone, args.timeout, args.seed + 98, alone)
        idle = Samples()
        await phase(users, ids, args.rounds, args.timeout, args.seed, idle)
        computing = Samples()
        computes = []
        for n in range(args.computes):
            done = threading.Event()
            task = asyncio.create_task(
                asyncio.to_thread(compute_plan, base, args.method, args.time_limit, done)
            )
            await asyncio.sleep(1.0)  # the planner logs in and the computation is under way
            await phase(
                users, ids, args.rounds_computing, args.timeout, args.seed + n + 1, computing, done
            )
            computes.append(await task)
        return alone, idle, computing, computes
    finally:
        for user in users:
            await user.client.aclose()


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------


def rows(workers: int, name: str, s: Samples) -> list[str]:
    health = s.p(HEALTH, 0.95)
    out = []
    for page in PAGES:
        p95 = s.p(page, 0.95)
        ratio = p95 / health if health else float("nan")
        mark = "" if page == HEALTH else (" ✓" if ratio <= TARGET_RATIO else " ✗")
        mark = "" if name == "1 user alone" else mark
        out.append(
            f"| {workers} | {name} | `{page}` | {s.p(page, 0.5) * 1000:.0f} | {p95 * 1000:.0f} "
            f"| {ratio:.1f}{mark} | {len(s.seconds.get(page, []))} | {s.errors.get(page, 0)} |"
        )
    return out


def summary(workers: int, name: str, s: Samples) -> str:
    kinds = ", ".join(f"{n} x {kind}" for kind, n in sorted(s.kinds.items()))
    rate = s.page_reads() / s.wall if s.wall else 0.0  # no wall time: the phase did not run
    return (
        f"workers {workers}, {name}: {rate:.0f} page reads/s, "
        f"{s.total_errors} errors{f' ({kinds})' if kinds else ''}, "
        + "".join(f"first {k}: {v}; " for k, v in sorted(s.examples.items()))
        + f"health p95 {s.p(HEALTH, 0.95) * 1000:.0f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pg", default=os.environ.get("V2V_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
    )
    parser.add_argument("--store", help="PostgreSQL database to use (made when absent; kept)")
    parser.add_argument("--keep", action="store_true", help="keep the database made")
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=4, help="rounds per user, idle")
    parser.add_argument(
        "--rounds-alone", type=int, default=10, help="rounds of one user alone, first"
    )
    parser.add_argument(
        "--rounds-computing", type=int, default=20, help="rounds per user at most, computing"
    )
    parser.add_argument("--computes", type=int, default=2, help="drafts computed per server")
    parser.add_argument("--method", default="cpsat", choices=("cpsat", "greedy"))
    parser.add_argument("--time-limit", type=float, default=8.0)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    args = parser.parse_args()

    name = args.store or f"v2v_bench_pages_{os.getpid()}"
    try:
        exists = database_exists(args.pg, name)
    except Exception as exc:
        print(f"PostgreSQL at {args.pg} is not reachable ({type(exc).__name__}): not run")
        return 1
    url = f"{args.pg}/{name}"
    env = {**os.environ, "V2V_DATABASE_URL": url, "V2V_ENVIRONMENT": "development"}
    made = False
    try:
        if not exists:
            create_database(args.pg, name)
            made = True
            fill_s = make_store(url, env, args.orders, args.seed)
            print(f"store: demo + {args.orders} orders ({fill_s:.0f} s)", flush=True)
        ids = ids_to_read(url)
        results = []
        for workers in args.workers:
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            load_before = os.getloadavg()[0]
            server = start_server(env, port, workers)
            try:
                wait_ready(base, server, 180)
                alone, idle, computing, computes = asyncio.run(measure(base, ids, args))
            finally:
                stop_server(server)
            load = (load_before, os.getloadavg()[0])
            results.append((workers, alone, idle, computing, computes, load))
            for label, s in (("idle", idle), ("computing a plan", computing)):
                print(summary(workers, label, s), flush=True)
    finally:
        if made and not (args.keep or args.store):
            drop_database(args.pg, name)

    table = [
        "| workers | phase | page | p50 ms | p95 ms | p95 / health p95 | requests | errors |",
        "|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    notes = []
    for workers, alone, idle, computing, computes, load in results:
        table += rows(workers, "1 user alone", alone)
        table += rows(workers, "idle", idle) + rows(workers, "computing a plan", computing)
        notes.append(summary(workers, "idle", idle))
        notes.append(summary(workers, "computing a plan", computing))
        drafts = ", ".join(
            f"{c.get('status')} in {float(c.get('seconds', 0)):.1f} s "
            f"({c.get('after', {}).get('scheduled', '?')}/{c.get('after', {}).get('orders', '?')}"
            " scheduled)" + (f" refused: {c['refusal']}" if c.get("refusal") else "")
            for c in computes
        )
        notes.append(f"workers {workers}: drafts computed {drafts}")
        notes.append(
            f"workers {workers}: machine load average (1 min) {load[0]:.1f} before, "
            f"{load[1]:.1f} after"
        )
    for line in table + notes:
        print(line)
    if args.no_record:
        return 0
    import ortools
    from sqlalchemy import create_engine, text

    from vein2vein.store.engine import normalise_url

    engine = create_engine(normalise_url(f"{args.pg}/postgres"))
    with engine.connect() as conn:
        pg_version = conn.scalar(text("SHOW server_version"))
    engine.dispose()
    header = (
        f"\n## pages_under_load — {args.users} users on PostgreSQL, idle and while a "
        f"{args.orders:,}-order plan is computed ({dt.date.today().isoformat()})\n\n"
        f"`python bench/pages_under_load.py --orders {args.orders} --users {args.users} "
        f"{f'--store {args.store} ' if args.store else ''}"
        f"--workers {' '.join(map(str, args.workers))} --rounds {args.rounds} "
        f"--rounds-computing {args.rounds_computing} --computes {args.computes} --method "
        f"{args.method} --time-limit {args.time_limit:g}` on {cpu_name()}, nproc {nproc()} "
        f"(shared with other jobs; the users run on the same machine), Python "
        f"{platform.python_version()}, PostgreSQL {pg_version}, OR-Tools {ortools.__version__}. "
        f"The store of `bench/page_latency.py` (demo + {args.orders:,} orders). `v2v serve "
        f"--workers N` on 127.0.0.1; {args.users} logged-in sessions of the demo's CDMO users, "
        f"one connection each, read {', '.join(f'`{p}`' for p in PAGES)} in random order, with "
        f"no pause: first one user alone ({args.rounds_alone} rounds: each page's cost without "
        f"a queue), then {args.rounds} rounds each idle, then round after round while a CP-SAT "
        f"draft over every order is computed (`POST /api/schedule/drafts`, {args.computes} times). "
        f"Target: every page's p95 at most {TARGET_RATIO:g} x the health endpoint's p95 in the "
        f"same phase (✓/✗), no errors.\n\n"
    )
    with RESULTS.open("a", encoding="utf-8") as out:
        out.write(header + "\n".join(table) + "\n\n" + "\n".join(f"- {n}" for n in notes) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
