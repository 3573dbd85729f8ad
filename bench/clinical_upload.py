"""Benchmark: storing a 10,000-subject clinical dataset version, whole process (issue 15).

Target 5 of issue 15: storing a dataset version (upload, validate, audit) takes at most 3 times
what a fresh Python process takes to import pandas and ``read_csv`` the same four files (best of
3). Measured as a user runs it:

* ``v2v clinical upload STUDY DIR --user U`` (the password on standard input), a fresh process
  from spawn to exit, on SQLite (a file) and on PostgreSQL (a database of its own, created on
  the server of ``--pg`` and dropped at the end);
* the HTTP upload (``curl -F files=@... /api/clinical/studies/{id}/versions`` with an API
  token) to a running ``v2v serve --workers 1`` on 127.0.0.1, on both engines (``--no-http``
  leaves it out): the time of the ``curl`` process; the server's peak RSS is its ``VmHWM``.

The study is the one ``bench/clinical_readout.py`` generates (10,000 subjects, about a million
assessment rows); every run stores the study's next version. The stores are made by a child
process through the real services (a sponsor, its ``sponsor_clinical`` user with the standard
Argon2 profile, a program, a study, a token). The machine is shared, so the runs are
interleaved (pandas, v2v, pandas, v2v, ...) and every command sees the same load; peak RSS of
a command is its child's rusage (``os.wait4``), the parent staying small (no pandas, no
SQLAlchemy here: a forked child's peak RSS counts from its parent's).

    .venv/bin/python bench/clinical_upload.py [--subjects 10000] [--repeat 3] [--no-http]
        [--no-pg] [--pg postgresql://postgres@127.0.0.1:5432] [--no-record]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from importlib.metadata import version
from pathlib import Path

from _machine import cpu_name, nproc
from clinical_readout_cli import FILES, GENERATE, PANDAS, v2v_command

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
PASSWORD = "Bench-upload-password-7"
USER = "bench.clinical"
STUDY = "BENCH-UPLOAD"
TARGET = 3.0

# run in a child process (the parent stays small): a migrated store with a sponsor, its
# sponsor_clinical user, a program, a study and an API token; prints the study id and token
SETUP = """
import json, sys
from vein2vein.auth import service, tokens
from vein2vein.auth.scope import administration_scope, scope_of
from vein2vein.clinical.studies import add_study
from vein2vein.core.settings import Settings
from vein2vein.programs.service import create_program
from vein2vein.store import migrate
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor

url, user, password, code = sys.argv[1:5]
db = Database(Settings(database_url=url))
migrate.upgrade(db.engine)
admin = administration_scope("bench")
with db.uow(Actor("bench")) as uow:
    org = service.create_organisation(uow, admin, "Bench Sponsor", "SPONSOR")
    u = service.create_user(
        uow, admin, db.settings, username=user, full_name="Bench Clinical",
        organisation=org.id, role="sponsor_clinical", password=password,
    )
    program = create_program(uow, admin, org.id, code="BENCH-01", name="Bench program")
    study = add_study(uow, program, code=code, title="Upload benchmark")
    uow.commit()
    study_id, user_id = study.id, u.id
with db.uow(Actor(user, user_id, org.id)) as uow:
    from vein2vein.auth.tables import User
    scope = scope_of(uow.session.get_one(User, user_id))
    _, plain = tokens.create_token(uow, scope, "upload benchmark", 1)
    uow.commit()
print(json.dumps({"study_id": study_id, "token": plain}))
"""

PG_ADMIN = """
import sys
from sqlalchemy import create_engine, text
from vein2vein.store.engine import normalise_url
server, action, name = sys.argv[1:4]
engine = create_engine(normalise_url(server + "/postgres"), isolation_level="AUTOCOMMIT")
with engine.connect() as conn:
    if action == "create":
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    elif action == "drop":
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    else:
        print(conn.scalar(text("SHOW server_version")))
engine.dispose()
"""


def child(code: str, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=HERE,
        env=env,
    )
    if done.returncode:
        raise SystemExit(f"child failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


def timed_rusage(argv: list[str], *, stdin: bytes = b"", env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    """(seconds, peak RSS in MiB, stdout, CPU seconds) of one child process, spawn to exit (its
    own rusage, waited for with ``os.wait4``); stdout and stderr go to files, not pipes."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=out, stderr=err, env=env)
        assert proc.stdin is not None
        proc.stdin.write(stdin)
        proc.stdin.close()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode:
            raise SystemExit(
                f"{' '.join(argv[:5])}... failed ({proc.returncode}): {err.read()[-2000:]!r}"
            )
        cpu = usage.ru_utime + usage.ru_stime
        return seconds, usage.ru_maxrss / 1024, out.read(), cpu


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    server = subprocess.Popen(
        [*v2v_command(), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("v2v serve stopped while starting")
        try:
            with urllib.request.urlopen(f"{base}/api/health", timeout=5) as answer:
                if answer.status == 200:
                    return server, base
        except OSError:
            time.sleep(0.5)
    stop_server(server)
    raise SystemExit("v2v serve did not answer within 180 s")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(server.pid, signal.SIGKILL)


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of a running process, all its threads (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_of(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--pg", default=os.environ.get("V2V_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
    )
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    parser.add_argument("--no-http", action="store_true", help="the command line only")
    parser.add_argument(
        "--before",
        type=Path,
        help="a src/ folder of another version of vein2vein, run too (PYTHONPATH), interleaved",
    )
    parser.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    args = parser.parse_args()
    v2v = v2v_command()
    curl = shutil.which("curl")
    http = not args.no_http and curl is not None
    variants = {"": None} | ({", before": str(args.before.resolve())} if args.before else {})
    pg_name = f"v2v_bench_upload_{os.getpid()}"
    pg_made = False
    servers: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    with tempfile.TemporaryDirectory(prefix="v2v-bench-upload-") as tmp:
        root = Path(tmp) / "study"
        root.mkdir()
        sizes = json.loads(child(GENERATE, str(root), str(args.subjects)))
        mib = sum(p.stat().st_size for p in root.iterdir()) / 2**20
        engines = {"SQLite": f"sqlite:///{tmp}/store.db"}
        pg_version = ""
        if not args.no_pg:
            try:
                pg_version = child(PG_ADMIN, args.pg, "version", "-").strip()
                child(PG_ADMIN, args.pg, "create", pg_name)
                pg_made = True
                engines["PostgreSQL"] = f"{args.pg}/{pg_name}"
            except SystemExit as exc:
                print(f"PostgreSQL at {args.pg} is not usable, SQLite only: {exc}")
        try:
            commands: dict[str, tuple[list[str], bytes, dict[str, str] | None]] = {}
            server_of: dict[str, int] = {}
            for engine, url in engines.items():
                made = json.loads(child(SETUP, url, USER, PASSWORD, STUDY))
                for variant, src in variants.items():
                    env = {**os.environ, "V2V_DATABASE_URL": url, "V2V_ENVIRONMENT": "development"}
                    if src is not None:
                        env["PYTHONPATH"] = src
                    commands[f"cli {engine}{variant}"] = (
                        [*v2v, "clinical", "upload", STUDY, str(root), "--user", USER, "--json"],
                        f"{PASSWORD}\n".encode(),
                        env,
                    )
                    if not http:
                        continue
                    server, base = servers[f"{engine}{variant}"] = start_server(env)
                    server_of[f"http {engine}{variant}"] = server.pid
                    commands[f"http {engine}{variant}"] = (
                        [
                            str(curl),
                            "--silent",
                            "--show-error",
                            "--fail-with-body",
                            "-H",
                            f"Authorization: Bearer {made['token']}",
                            *(f"-Ffiles=@{root / f}" for f in FILES),
                            f"{base}/api/clinical/studies/{made['study_id']}/versions",
                        ],
                        b"",
                        None,
                    )
            pandas_argv = [sys.executable, "-c", PANDAS, *(str(root / f) for f in FILES)]
            best: dict[str, tuple[float, float]] = {}
            paired: dict[str, list[float]] = {name: [] for name in commands}
            cpus: dict[str, float] = {}
            stored: dict[str, dict] = {}
            load = [os.getloadavg()[0]]
            for _ in range(args.repeat):
                for name, (argv, stdin, env) in commands.items():
                    # pandas right before each command: both see the same load
                    t_pandas, rss, _, cpu = timed_rusage(pandas_argv)
                    old = best.get("pandas", (float("inf"), 0.0))
                    best["pandas"] = (min(old[0], t_pandas), max(old[1], rss))
                    cpus["pandas"] = min(cpus.get("pandas", float("inf")), cpu)
                    server = server_of.get(name)
                    before = cpu_of(server) if server else 0.0
                    seconds, rss, out, cpu = timed_rusage(argv, stdin=stdin, env=env)
                    if server:  # curl's own CPU is nothing: the server's work is the upload's
                        cpu = cpu_of(server) - before
                    cpus[name] = min(cpus.get(name, float("inf")), cpu)
                    stored[name] = json.loads(out)
                    old = best.get(name, (float("inf"), 0.0))
                    best[name] = (min(old[0], seconds), max(old[1], rss))
                    paired[name].append(seconds / t_pandas)
                load.append(os.getloadavg()[0])
            server_rss = {k: peak_rss_of(s.pid) for k, (s, _) in servers.items()}
        finally:
            for server, _ in servers.values():
                stop_server(server)
            if pg_made:
                child(PG_ADMIN, args.pg, "drop", pg_name)

    hashes = {v["sha256"] for v in stored.values()}
    if len(hashes) != 1:
        raise SystemExit(f"the stored versions differ: {stored}")
    t_pd, rss_pd = best["pandas"]
    rows = []
    verdicts = []
    for name in commands:
        seconds, rss = best[name]
        kind, where = name.split(" ", 1)
        if kind == "cli":
            what = f"`v2v clinical upload STUDY DIR --user U` ({where})"
            rss_text = f"{rss:.0f} MiB"
        else:
            what = f"HTTP upload, `curl -F files=@...` to `v2v serve` ({where})"
            rss_text = f"server {server_rss[where]:.0f} MiB"
        pairs = sorted(paired[name])
        rows.append(
            f"| {what} | {seconds:.2f} | **{seconds / t_pd:.2f}** | "
            f"{pairs[len(pairs) // 2]:.2f} | {cpus[name]:.2f} ({cpus[name] / cpus['pandas']:.2f}) "
            f"| {rss_text} |"
        )
        verdicts.append(f"{name}: {seconds / t_pd:.2f}")
    lines = [
        "",
        f"## clinical_upload: storing a {sizes['subjects']:,}-subject dataset version, whole "
        "process (issue 15 target 5)",
        "",
        "`.venv/bin/python bench/clinical_upload.py"
        + (" --before SRC" if args.before else "")
        + f"`, {dt.date.today().isoformat()} (UTC).",
        "",
        f"Machine: {cpu_name()}, nproc {nproc()} (shared with other jobs; load average "
        f"{min(load):.1f}-{max(load):.1f} during the runs), Python {platform.python_version()}, "
        f"pandas {version('pandas')}"
        + (f", PostgreSQL {pg_version}" if pg_version else "")
        + f". Input: {sizes['assessment_rows']:,} assessment rows, {mib:.1f} MiB of CSV (the "
        "study of `bench/clinical_readout.py`). Each command is a fresh process, spawn to exit, "
        f"best of {args.repeat}; the runs are interleaved (pandas, then one upload, then pandas, "
        "...) so that both see the same load on the shared machine; the paired ratio is the "
        "median over the rounds of each upload's time over the pandas run just before it. Each "
        "upload stores the study's next version (files, hashes, counts, audit entry) in one "
        "transaction, logged in as a `sponsor_clinical` user (Argon2 standard profile; HTTP: an "
        "API token). Peak RSS from the child's rusage (the largest of the runs); for HTTP the "
        "server's `VmHWM`. CPU: user + system seconds of the process (least of the runs); for "
        "HTTP the server's (from /proc), without PostgreSQL's own."
        + (
            " *before*: the same command and server run from another source tree "
            "(`PYTHONPATH=SRC`), interleaved with the others."
            if args.before
            else ""
        ),
        "",
        "| process | seconds | / pandas (best / best) | paired ratio (median) | CPU s (/ pandas) "
        "| peak RSS |",
        "|---|---|---|---|---|---|",
        f"| python: `import pandas` + `read_csv` of the four files | {t_pd:.2f} | 1.00 | | "
        f"{cpus['pandas']:.2f} | {rss_pd:.0f} MiB |",
        *rows,
        "",
        f"Ratio upload / pandas: {'; '.join(verdicts)} (target <= {TARGET:g}).",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_record:
        with RESULTS.open("a", encoding="utf-8") as fh:
            fh.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
