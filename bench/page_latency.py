"""Benchmark: page latency while a 5,000-order plan is being computed (issue 9).

A demo store (``v2v demo --no-serve``, SQLite in WAL mode) gets 5,000 more orders through the
identity services (dates from ``scheduling.generate_problem``, the instance ``v2v schedule
generate`` writes), then ``v2v serve`` is started on 127.0.0.1 and a logged-in CDMO operator
reads a few pages over HTTP:

1. idle: a fixed number of rounds over the pages;
2. while a QA approver computes a CP-SAT draft over the store's orders through
   ``POST /api/schedule/drafts`` (read, solve outside any transaction, write);
3. while this script holds a SQLite write transaction for as long as that computation took:
   what every page did before, when the plan was computed inside a write transaction.

Every request has a time-out (``--timeout``) and each phase a bounded number of requests. Then,
in this process, the three steps of the computation are timed on the same store (how long the
write step holds the write lock). Results are printed and appended to bench/RESULTS.md.

    python bench/page_latency.py                      # 5,000 orders, CP-SAT, 8 s
    python bench/page_latency.py --orders 500 --time-limit 2 --no-record
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from _machine import cpu_name, nproc

RESULTS = Path(__file__).with_name("RESULTS.md")
PAGES = ("/", "/schedule", "/schedule/plans", "/coi")
DEMO_PASSWORD = "Vein2Vein-demo!"
CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


# --------------------------------------------------------------------------------------------
# the store
# --------------------------------------------------------------------------------------------


#: the generator's products as store products (ISBT 128 product codes of the bench)
PRODUCT_CODES = {
    "CD19-A": "S1111100",
    "CD19-B": "S2222100",
    "BCMA-C": "S3333100",
    "CD22-D": "S4444100",
}


def make_store(url: str, env: dict[str, str], orders: int, seed: int) -> float:
    """The demo store plus the orders of the generator's instance of ``orders`` orders, with
    product and laboratory settings like the generator's (12 suites as in the demo, starts on
    any day, its QC capacity and starts per day); returns the seconds spent adding them."""
    subprocess.run(
        [sys.executable, "-m", "vein2vein", "demo", "--no-serve"],
        env=env,
        check=True,
        capture_output=True,
    )
    from sqlalchemy import select

    from vein2vein.auth import service as auth
    from vein2vein.auth.tables import Site
    from vein2vein.core.settings import Settings
    from vein2vein.identity import orders as coi
    from vein2vein.identity.intake import OrderRequest
    from vein2vein.identity.tables import MARKERS
    from vein2vein.programs.tables import Program
    from vein2vein.scheduling import settings
    from vein2vein.scheduling.generator import PRODUCTS, GeneratorConfig, generate_problem
    from vein2vein.store.database import Database
    from vein2vein.store.uow import Actor

    start = dt.date.today() + dt.timedelta(days=2)
    problem = generate_problem(GeneratorConfig(orders=orders, seed=seed, start=start))
    db = Database(Settings(database_url=url))
    clock = time.perf_counter()
    sponsors = (("helixa.clinical", "HLX-EPC-01"), ("corvane.clinical", "CRV-CD19-02"))
    with db.uow(Actor("bench")) as uow:
        s = uow.session
        planner = auth.scope_of(auth.user_by_username(s, "qa.approver"))
        for name, process_days, qc_days in PRODUCTS:
            settings.set_product(
                uow,
                planner,
                product_code=PRODUCT_CODES[name][:5],
                name=name,
                process_days=process_days,
                start_weekdays="Mon-Sun",
                qc_method="rapid",
                qc_days_rapid=qc_days,
                qc_days_compendial=qc_days,
                fresh_hold_days=4,
                cryo_hold_days=90,
                inbound_days=1,
                ship_days=2,
            )
        settings.set_lab(
            uow,
            planner,
            qc_capacity=problem.qc_capacity,
            max_starts_per_day=problem.max_starts_per_day,
        )
        who = []
        for username, program_code in sponsors:
            scope = auth.scope_of(auth.user_by_username(s, username))
            program = s.scalars(select(Program).where(Program.code == program_code)).one()
            site = s.scalars(
                select(Site).where(Site.organisation_id == program.organisation_id)
            ).first()
            assert site is not None
            who.append((scope, program.id, site.id))
        for n, order in enumerate(problem.orders):
            scope, program_id, site_id = who[n % 2]
            patient = coi.enrol_patient(
                uow,
                scope,
                program_id=program_id,
                subject_id=f"BENCH-{n:05d}",
                treatment_site_id=site_id,
            )
            markers = dict.fromkeys(MARKERS, "negative")
            if order.infectious:
                markers["hbv"] = "positive"
            apheresis = order.receipt_date - dt.timedelta(days=1)
            coi.place_order(
                uow,
                scope,
                OrderRequest(
                    patient_id=patient.id,
                    product_code=PRODUCT_CODES[order.product],
                    dose_level="DL1",
                    weight_kg="70",
                    planned_apheresis=apheresis,
                    required_by=max(order.required_by, apheresis + dt.timedelta(days=1)),
                    starting_material="fresh" if order.max_hold_days <= 7 else "cryopreserved",
                    markers=markers,
                ),
            )
        uow.commit()
    db.dispose()
    return time.perf_counter() - clock


# --------------------------------------------------------------------------------------------
# HTTP: a logged-in client (the session cookie is Secure, so it is sent by hand over http)
# --------------------------------------------------------------------------------------------


@dataclass
class Browser:
    base: str
    timeout: float
    cookies: dict[str, str] = field(default_factory=dict)
    csrf: str = ""

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.base, timeout=self.timeout)

    def _keep(self, response: httpx.Response) -> None:
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]

    def request(self, method: str, path: str, **kw: object) -> httpx.Response:
        headers = {"cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if self.csrf:
            headers["x-csrf-token"] = self.csrf
        response = self.http.request(method, path, headers=headers, **kw)  # type: ignore[arg-type]
        self._keep(response)
        return response

    def login(self, username: str) -> Browser:
        page = self.request("GET", "/login")
        form = {
            "username": username,
            "password": DEMO_PASSWORD,
            "csrf_token": CSRF.search(page.text).group(1),  # type: ignore[union-attr]
            "next": "/",
        }
        self.request("POST", "/login", data=form)
        home = self.request("GET", "/")
        assert home.status_code == 200, home.text[:300]
        self.csrf = CSRF.search(home.text).group(1)  # type: ignore[union-attr]
        return self


@dataclass
class Samples:
    seconds: dict[str, list[float]] = field(default_factory=dict)
    failures: int = 0

    def add(self, page: str, seconds: float) -> None:
        self.seconds.setdefault(page, []).append(seconds)

    def row(self, page: str) -> str:
        values = sorted(self.seconds.get(page, []))
        if not values:
            return "| - | - | - | 0 |"
        p50 = statistics.median(values)
        p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
        return f"| {p50 * 1000:.0f} | {p95 * 1000:.0f} | {values[-1] * 1000:.0f} | {len(values)} |"


def read_pages(
    reader: Browser, samples: Samples, until: threading.Event | None, rounds: int
) -> None:
    """Read the pages round after round: ``rounds`` rounds, or until ``until`` is set (and at
    most ``rounds`` rounds even then)."""
    for _ in range(rounds):
        if until is not None and until.is_set():
            return
        for page in PAGES:
            clock = time.perf_counter()
            try:
                ok = reader.request("GET", page).status_code == 200
            except httpx.HTTPError:  # a time-out, or the server gave up on the request
                ok = False
            elapsed = time.perf_counter() - clock
            if ok:
                samples.add(page, elapsed)
            else:
                samples.failures += 1
                samples.add(page, elapsed)


def while_computing(
    reader: Browser, planner: Browser, args: argparse.Namespace, samples: Samples
) -> tuple[float, dict[str, object]]:
    """Read pages while the planner's draft is computed; its seconds and answer."""
    done = threading.Event()
    outcome: dict[str, object] = {}

    def compute() -> None:
        clock = time.perf_counter()
        try:
            r = planner.request(
                "POST",
                "/api/schedule/drafts",
                json={"method": args.method, "time_limit": args.time_limit, "mode": "plan"},
                timeout=120,
            )
            outcome.update(status=r.status_code, body=r.json())
        finally:
            outcome["seconds"] = time.perf_counter() - clock
            done.set()

    thread = threading.Thread(target=compute)
    thread.start()
    time.sleep(0.2)  # the request is in the server before the first page is read
    read_pages(reader, samples, done, args.rounds)
    thread.join()
    return float(outcome["seconds"]), outcome  # type: ignore[arg-type]


def hold_write_lock(
    path: Path, seconds: float, held: threading.Event, done: threading.Event
) -> None:
    """Hold a SQLite write transaction on the store for ``seconds`` (what computing used to do)."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        held.set()
        time.sleep(seconds)
        conn.execute("ROLLBACK")
    finally:
        conn.close()
        done.set()


def while_locked(
    reader: Browser, seconds: float, rounds: int, path: Path, samples: Samples
) -> None:
    held, done = threading.Event(), threading.Event()
    holder = threading.Thread(target=hold_write_lock, args=(path, seconds, held, done))
    holder.start()
    held.wait()
    read_pages(reader, samples, done, rounds)
    holder.join()


def step_timings(url: str, method: str, time_limit: float) -> dict[str, float]:
    """The three steps of computing a draft, timed in this process on the same store."""
    from vein2vein.auth import service as auth
    from vein2vein.core.settings import Settings
    from vein2vein.scheduling import planning
    from vein2vein.store.database import Database
    from vein2vein.store.uow import Actor

    db = Database(Settings(database_url=url))
    with db.read() as session:
        scope = auth.scope_of(auth.user_by_username(session, "qa.approver"))
    options = planning.PlanOptions(method=method, time_limit=time_limit, mode="plan")
    clock = time.perf_counter()
    with db.read() as session:
        inputs = planning.read_inputs(session, scope, options)
    read_s = time.perf_counter() - clock
    clock = time.perf_counter()
    computed = planning.solve(inputs)
    solve_s = time.perf_counter() - clock
    clock = time.perf_counter()
    with db.uow(Actor("bench")) as uow:
        planning.save_draft(uow, scope, inputs, computed)
        uow.commit()
    write_s = time.perf_counter() - clock
    db.dispose()
    return {"read": read_s, "solve": solve_s, "write": write_s}


# --------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(base: str, server: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("v2v serve exited")
        try:
            if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit("v2v serve did not answer")


def table(phases: list[tuple[str, Samples]]) -> list[str]:
    rows = [
        "| phase | page | p50 ms | p95 ms | max ms | requests |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, samples in phases:
        for page in PAGES:
            rows.append(f"| {name} | `{page}` {samples.row(page)}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--method", default="cpsat", choices=("cpsat", "greedy"))
    parser.add_argument("--time-limit", type=float, default=8.0)
    parser.add_argument("--idle-rounds", type=int, default=20, help="rounds over the pages idle")
    parser.add_argument(
        "--rounds", type=int, default=100, help="rounds over the pages at most while computing"
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    parser.add_argument("--computes", type=int, default=3, help="drafts computed (phases 2, 3)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    parser.add_argument(
        "--store", type=Path, help="keep the store in this folder (reused when it exists)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.store or Path(tmp)
        path = folder / "bench.db"
        url = f"sqlite:///{path}"
        env = {**os.environ, "V2V_DATABASE_URL": url, "V2V_ENVIRONMENT": "development"}
        if not path.exists():
            folder.mkdir(parents=True, exist_ok=True)
            fill_s = make_store(url, env, args.orders, args.seed)
            print(f"store: demo + {args.orders} orders ({fill_s:.0f} s)", flush=True)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "vein2vein",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(os.environ.get("BENCH_SERVER_LOG", os.devnull), "w"),  # noqa: SIM115
        )
        try:
            wait_ready(base, server)
            reader = Browser(base, args.timeout).login("operator")
            planner = Browser(base, args.timeout).login("qa.approver")
            idle = Samples()
            read_pages(reader, idle, None, args.idle_rounds)
            during, locked = Samples(), Samples()
            computes: list[float] = []
            for _ in range(args.computes):
                seconds, outcome = while_computing(reader, planner, args, during)
                computes.append(seconds)
                print(f"draft computed over HTTP: {outcome.get('status')} in {seconds:.1f} s")
                while_locked(reader, seconds, args.rounds, path, locked)
            compute_s = statistics.median(computes)
        finally:
            server.terminate()
            server.wait(timeout=30)
        steps = step_timings(url, args.method, args.time_limit)
    body = outcome.get("body") or {}
    after = body.get("after", {}) if isinstance(body, dict) else {}
    phases = [
        ("idle", idle),
        ("computing a plan (now)", during),
        ("write lock held as long (before)", locked),
    ]
    rows = table(phases)
    for row in rows:
        print(row)
    print(
        f"steps in process: read {steps['read']:.2f} s, solve {steps['solve']:.2f} s, "
        f"write {steps['write']:.2f} s; failures idle/now/before: "
        f"{idle.failures}/{during.failures}/{locked.failures}"
    )
    if args.no_record:
        return
    import ortools

    header = (
        f"\n## page_latency — pages while a {args.orders:,}-order plan is computed "
        f"({dt.date.today().isoformat()})\n\n"
        f"`python bench/page_latency.py --orders {args.orders} --method {args.method} "
        f"--time-limit {args.time_limit:g}` on {cpu_name()}, nproc {nproc()} (shared "
        f"with other jobs), Python {platform.python_version()}, OR-Tools {ortools.__version__}, "
        f"SQLite {sqlite3.sqlite_version} in WAL mode. `v2v serve` on 127.0.0.1; a logged-in "
        f"operator reads {', '.join(f'`{p}`' for p in PAGES)} over HTTP, one after the other: "
        f"{args.idle_rounds} rounds idle, then round after round (at most {args.rounds}) for "
        f"as long as each phase lasts, {args.timeout:g} s time-out per request. The draft "
        f"(`POST /api/schedule/drafts`, {args.method}, mode plan), computed {args.computes} "
        f'times, took {compute_s:.1f} s over HTTP (median; each followed by the "before" '
        f"phase as long): {after.get('scheduled', '?')}/{after.get('orders', '?')} orders "
        f"scheduled. "
        f"Steps timed in process on the same store: read {steps['read']:.2f} s (read-only "
        f"unit), solve {steps['solve']:.2f} s (no transaction), write {steps['write']:.2f} s "
        f"(the only time the write lock is held, stale-input check included). Failed or "
        f"timed-out requests (idle / now / before): {idle.failures} / {during.failures} / "
        f'{locked.failures}. "before" holds a SQLite write transaction from this script for '
        f"as long as the draft took, as computing inside a write transaction did: the first "
        f"request of that phase waits for all of it, because authenticating a request still "
        f"resumes the web session in a writing unit of work.\n\n"
    )
    with RESULTS.open("a", encoding="utf-8") as out:
        out.write(header + "\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
