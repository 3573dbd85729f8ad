"""Recovery time of `v2v db backup` and `v2v db restore` (issue 10), whole processes.

Two stores on each engine: the demo database (`v2v demo --no-serve`) and a store holding 1,000,000
audit entries (written through `store.audit.append`, in batches). For each: the time of
`v2v db backup FILE` and of `v2v db restore FILE` into an empty database (each process includes
start-up and the audit-chain verification it does), the file size, and a check that the restored
head equals the backup's. Results are appended to bench/RESULTS.md with machine and date.

Usage: .venv/bin/python bench/backup_restore.py [--entries N] [--engines sqlite,postgresql]
PostgreSQL: V2V_BENCH_PG (default postgresql://postgres@127.0.0.1:5432) — databases named
v2v_bench_* are created and dropped there (127.0.0.1 only).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
V2V = [sys.executable, "-m", "vein2vein"]
PG = os.environ.get("V2V_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}"


def run(args: list[str], url: str) -> tuple[float, dict]:
    env = os.environ | {"V2V_DATABASE_URL": url, "V2V_ARGON2_PROFILE": "fast-tests"}
    start = time.perf_counter()
    done = subprocess.run([*V2V, *args], env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {done.stderr.strip()}")
    return seconds, (json.loads(done.stdout) if "--json" in args else {})


def fill_audit(url: str, entries: int) -> None:
    """Upgrade the schema and write ``entries`` audit entries in batches of 20,000: each entry
    built and hashed as ``store.audit.append`` does (same fields, same chain), inserted with one
    executemany per batch (the database's INSERT trigger still checks every link)."""
    sys.path.insert(0, str(ROOT / "src"))
    from types import SimpleNamespace

    from vein2vein.core.canonical import canonical_json
    from vein2vein.core.clock import iso_utc, utcnow
    from vein2vein.core.settings import Settings
    from vein2vein.store import audit, migrate
    from vein2vein.store.database import Database

    db = Database(Settings(environment="test", database_url=url, argon2_profile="fast-tests"))
    migrate.upgrade(db.engine)
    with db.read() as session:
        head = audit.head(session)
    seq, prev = head.seq, head.hash
    columns = (*audit.HASHED_FIELDS, "hash")
    insert = audit.AuditEntry.__table__.insert()
    at = iso_utc(utcnow())
    done = 0
    while done < entries:
        rows = []
        for _ in range(min(20_000, entries - done)):
            done += 1
            seq += 1
            row = SimpleNamespace(
                seq=seq,
                recorded_at=at,
                actor_id=None,
                actor="bench",
                organisation_id=None,
                action="bench.entry",
                entity_type="bench",
                entity_id=str(done),
                before=None,
                after=canonical_json({"n": done, "note": "synthetic entry"}).decode(),
                reason=None,
                prev_hash=prev,
            )
            row.hash = audit.compute_hash(row)
            prev = row.hash
            rows.append({name: getattr(row, name) for name in columns})
        with db.engine.begin() as conn:
            conn.execute(insert, rows)
        print(f"  {done:,} entries", flush=True)
    db.dispose()


def pg_database(name: str, drop_only: bool = False) -> str:
    admin = create_engine(PG.replace("postgresql://", "postgresql+psycopg://") + "/postgres")
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if not drop_only:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{PG}/{name}"


def measure(engine: str, store: str, entries: int, tmp: Path) -> dict:
    if engine == "sqlite":
        source, target = f"sqlite:///{tmp / f'{store}.db'}", f"sqlite:///{tmp / f'{store}-r.db'}"
    else:
        source = pg_database(f"v2v_bench_{store}")
        target = pg_database(f"v2v_bench_{store}_r")
    print(f"{engine} / {store}: preparing", flush=True)
    if store == "demo":
        run(["demo", "--no-serve"], source)
    else:
        fill_audit(source, entries)
    file = tmp / f"{engine}-{store}.bak"
    backup_s, made = run(["db", "backup", str(file), "--json"], source)
    restore_s, back = run(["db", "restore", str(file), "--json"], target)
    assert back["head_hash"] == made["head_hash"], "restored head differs from the backup's"
    if engine == "postgresql":
        pg_database(f"v2v_bench_{store}", drop_only=True)
        pg_database(f"v2v_bench_{store}_r", drop_only=True)
    row = {
        "engine": engine,
        "store": store,
        "entries": made["entries"],
        "backup_s": round(backup_s, 2),
        "restore_s": round(restore_s, 2),
        "bytes": file.stat().st_size,
    }
    print(row, flush=True)
    return row


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--engines", default="sqlite,postgresql")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="v2v-bench-") as folder:
        tmp = Path(folder)
        for engine in args.engines.split(","):
            for store in ("demo", "audit"):
                rows.append(measure(engine, store, args.entries, tmp))
    lines = [
        "",
        "## backup_restore — recovery time of `v2v db backup` / `v2v db restore` (issue 10)",
        "",
        "`.venv/bin/python bench/backup_restore.py` — whole processes (start-up, the copy, and",
        "the audit-chain verification each command does); restore into an empty database; the",
        "restored head equals the backup's in every row.",
        "",
        f"Machine: {machine()}. Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC.",
        "",
        "| engine | store | audit entries | backup | restore | file |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['engine']} | {r['store']} | {r['entries']:,} | {r['backup_s']} s | "
            f"{r['restore_s']} s | {r['bytes'] / 2**20:.1f} MiB |"
        )
    with (HERE / "RESULTS.md").open("a", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
