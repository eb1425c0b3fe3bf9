"""Analytics at scale: one million simulated touchpoints on SQLite and PostgreSQL.

Generates N touchpoints (default 1,000,000) with the `hamsafar simulate`
machinery (bot.analytics.simulate.simulate_batches; the last customer's
journey is cut so the count is exact), bulk-loads them into a SQLite file and
into a fresh PostgreSQL database created for the bench, then times the real
commands as an analyst runs them, each in its own process, wall clock:

    hamsafar analytics funnel|goals|channels --database-url URL --format json
    hamsafar report --out FILE --database-url URL

Bars: funnel, goals and channels each under 3 s on both databases; the report
under 30 s. Every command runs `--repeat` times; the bar is checked against the
slowest run. The JSON outputs of SQLite and PostgreSQL must be identical (same
data, same answers). The 1-minute load average is printed next to each
timing because the machine is shared. The commands run with Python's bytecode
cache (see `child_environment`; `--no-bytecode-cache` to time them without).

Databases: SQLite `DIR/touchpoints-N-dD-sS.db`; PostgreSQL database
`hamsafar_bench_scale_N_dD_sS` on the server of `--postgres-url` (only that
database is ever created or dropped). Both are deleted at the end unless
`--keep`; `--reuse` keeps them and loads nothing when they already hold the
same N rows of the same seed, so reruns only time the queries.

    .venv/bin/python bench/analytics_scale.py                     # generate, time, clean up
    .venv/bin/python bench/analytics_scale.py --reuse             # keep the data; reruns are cheap
    .venv/bin/python bench/analytics_scale.py --touchpoints 100000 --skip-postgres

Exit code 0 when every bar is met, 1 if not.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.schema import CreateIndex  # noqa: E402

from bot.analytics.simulate import simulate_batches  # noqa: E402
from bot.db import dispose_engines, init_db  # noqa: E402
from bot.touchpoints.models import Touchpoint  # noqa: E402

TABLE = Touchpoint.__table__
COMMANDS = ("funnel", "goals", "channels")
QUERY_BAR_S = 3.0
REPORT_BAR_S = 30.0
START = dt.date(2025, 1, 1)
HAMSAFAR = str(ROOT / ".venv" / "bin" / "hamsafar")


def load() -> float:
    return os.getloadavg()[0]


# --------------------------------------------------------------------------- databases
def postgres_admin(base_url: str) -> sa.engine.Engine:
    return sa.create_engine(base_url, isolation_level="AUTOCOMMIT", future=True)


def database_url(base_url: str, name: str) -> str:
    return base_url.rsplit("/", 1)[0] + "/" + name


def postgres_exists(admin: sa.engine.Engine, name: str) -> bool:
    with admin.connect() as conn:
        return bool(conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first())


def drop_postgres(admin: sa.engine.Engine, name: str) -> None:
    assert name.startswith("hamsafar_bench_"), name  # never any other database
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def holds_the_data(url: str, touchpoints: int, days: int, seed: int) -> bool:
    """True if the database has exactly `touchpoints` rows, the first of them this simulation's."""
    first = next(simulate_batches(None, days, seed, START, max_rows=1))[0]
    try:
        engine = sa.create_engine(url, future=True)
        with engine.connect() as conn:
            count = conn.execute(sa.text("SELECT COUNT(*) FROM touchpoints")).scalar_one()
            found = conn.execute(sa.text("SELECT conversation_id FROM touchpoints WHERE event_id = :e"),
                                 {"e": first["event_id"]}).scalar()
        engine.dispose()
    except sa.exc.SQLAlchemyError:
        return False
    return count == touchpoints and found == first["conversation_id"]


# --------------------------------------------------------------------------- bulk loading
COLUMNS = [c.name for c in TABLE.columns if c.name != "id"]


def copy_csv(batch: List[Dict[str, Any]]) -> io.StringIO:
    """The batch as CSV for PostgreSQL COPY (NULL is \\N, JSON as text, booleans t/f)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in batch:
        out = []
        for name in COLUMNS:
            value = row.get(name)
            if value is None:
                out.append("\\N")
            elif name in ("actions", "entities"):
                out.append(json.dumps(value, ensure_ascii=False))
            elif isinstance(value, bool):
                out.append("t" if value else "f")
            elif isinstance(value, dt.datetime):
                out.append(value.isoformat(sep=" "))
            else:
                out.append(value)
        writer.writerow(out)
    buffer.seek(0)
    return buffer


class Loader:
    """Appends batches to one database: executemany on SQLite, COPY on PostgreSQL.

    As for any bulk load, the touchpoints indexes are dropped first and built
    once at the end (`finish`); their build time counts in the load time.
    """

    def __init__(self, url: str) -> None:
        self.engine = init_db(url)  # tables, indexes, migrations, views: as in production
        self.postgres = self.engine.dialect.name == "postgresql"
        self.seconds = 0.0
        with self.engine.begin() as conn:
            for index in TABLE.indexes:
                conn.execute(sa.text(f"DROP INDEX {index.name}"))

    def add(self, batch: List[Dict[str, Any]]) -> None:
        started = time.perf_counter()
        if self.postgres:
            raw = self.engine.raw_connection()
            try:
                with raw.cursor() as cursor:
                    cursor.copy_expert(f"COPY touchpoints ({', '.join(COLUMNS)}) FROM STDIN WITH (FORMAT csv, NULL '\\N')",
                                       copy_csv(batch))
                raw.commit()
            finally:
                raw.close()
        else:
            with self.engine.begin() as conn:
                conn.execute(TABLE.insert(), batch)
        self.seconds += time.perf_counter() - started

    def finish(self) -> None:
        """PostgreSQL: statistics and visibility map, as autovacuum gives them after a bulk load.
        SQLite gets nothing: Hamsafar never runs ANALYZE there, so neither does the bench."""
        started = time.perf_counter()
        with self.engine.begin() as conn:
            for index in TABLE.indexes:
                conn.execute(CreateIndex(index))
        if self.postgres:
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("VACUUM ANALYZE touchpoints"))
        self.seconds += time.perf_counter() - started


def generate(urls: List[str], touchpoints: int, days: int, seed: int) -> Dict[str, float]:
    """Simulate once, load every batch into every database; returns seconds spent."""
    loaders = [Loader(url) for url in urls]
    started = time.perf_counter()
    written = 0
    for batch in simulate_batches(None, days, seed, START, max_rows=touchpoints):
        for loader in loaders:
            loader.add(batch)
        written += len(batch)
        print(f"  … {written:,} touchpoints", end="\r", file=sys.stderr, flush=True)
    for loader in loaders:
        loader.finish()
    print(file=sys.stderr)
    total = time.perf_counter() - started
    dispose_engines()
    timings = {"generate_and_load_s": round(total, 1)}
    for url, loader in zip(urls, loaders):
        timings[f"load_{loader.engine.dialect.name}_s"] = round(loader.seconds, 1)
    return timings


# --------------------------------------------------------------------------- timing
CHILD_ENV: Dict[str, str] = {}


def child_environment(out_dir: Path, bytecode_cache: bool) -> Dict[str, str]:
    """The timed commands' environment. With `bytecode_cache`, Python keeps compiled modules (in
    OUT_DIR/pycache) as a pip-installed deployment does; this machine sets PYTHONDONTWRITEBYTECODE=1
    and its venv has no .pyc files, which makes every command compile SQLAlchemy first."""
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false"}
    if bytecode_cache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(out_dir / "pycache")
        subprocess.run([sys.executable, "-c", "import bot.cli, bot.analytics.cli, bot.analytics.metrics, "
                        "bot.analytics.report, bot.db, sqlalchemy.dialects.postgresql, psycopg2"],
                       cwd=ROOT, env=env, check=True)  # compile once, untimed
    return env


def run(argv: List[str]) -> Dict[str, Any]:
    before = load()
    started = time.perf_counter()
    done = subprocess.run([HAMSAFAR, *argv], capture_output=True, text=True, cwd=ROOT, env=CHILD_ENV)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"`hamsafar {' '.join(argv)}` failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return {"seconds": seconds, "load": before, "stdout": done.stdout}


def time_backend(name: str, url: str, repeat: int, out_dir: Path) -> Dict[str, Any]:
    result: Dict[str, Any] = {}
    for command in COMMANDS:
        runs = [run(["analytics", command, "--database-url", url, "--format", "json"]) for _ in range(repeat)]
        result[command] = runs
    report = out_dir / f"report-{name}.html"
    result["report"] = [run(["report", "--out", str(report), "--database-url", url]) for _ in range(repeat)]
    result["report_bytes"] = report.stat().st_size
    return result


def summary(runs: List[Dict[str, Any]]) -> Dict[str, Any]:
    seconds = [r["seconds"] for r in runs]
    return {"median_s": round(statistics.median(seconds), 2), "max_s": round(max(seconds), 2),
            "runs_s": [round(s, 2) for s in seconds], "load_1min": [round(r["load"], 2) for r in runs]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--touchpoints", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90, help="simulated period (default 90 days from 2025-01-01)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/hamsafar-analytics-scale"),
                        help="where the SQLite file and the reports go")
    parser.add_argument("--postgres-url", default=os.environ.get("HAMSAFAR_TEST_POSTGRES_URL")
                        or "postgresql://postgres@127.0.0.1:5432/test",
                        help="any database on the server; the bench creates its own next to it")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--reuse", action="store_true", help="keep the databases and reuse them if they hold the data")
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    parser.add_argument("--repeat", type=int, default=3, help="runs per command (bar: the slowest)")
    parser.add_argument("--no-bytecode-cache", action="store_true",
                        help="time the commands without Python's bytecode cache (as this environment runs them)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()

    args.dir.mkdir(parents=True, exist_ok=True)
    keep = args.keep or args.reuse
    backends: Dict[str, str] = {}
    sqlite_path = args.dir / f"touchpoints-{args.touchpoints}-d{args.days}-s{args.seed}.db"
    pg_name = f"hamsafar_bench_scale_{args.touchpoints}_d{args.days}_s{args.seed}"
    admin: Optional[sa.engine.Engine] = None
    if not args.skip_sqlite:
        backends["sqlite"] = f"sqlite:///{sqlite_path}"
    if not args.skip_postgres:
        admin = postgres_admin(args.postgres_url)
        backends["postgresql"] = database_url(args.postgres_url, pg_name)

    result: Dict[str, Any] = {"touchpoints": args.touchpoints, "days": args.days, "seed": args.seed,
                              "cpus": os.cpu_count(), "load_at_start": [round(x, 2) for x in os.getloadavg()]}
    try:
        to_load = []
        for name, url in backends.items():
            if args.reuse and holds_the_data(url, args.touchpoints, args.days, args.seed):
                started = time.perf_counter()
                init_db(url)  # pending migrations (e.g. new indexes) run here, not inside a timed command
                print(f"{name}: reusing {url} (init_db {time.perf_counter() - started:.1f}s)", file=sys.stderr)
                continue
            if name == "sqlite":
                for suffix in ("", "-wal", "-shm", ".init-lock"):
                    Path(f"{sqlite_path}{suffix}").unlink(missing_ok=True)
            else:
                assert admin is not None
                if postgres_exists(admin, pg_name):
                    drop_postgres(admin, pg_name)
                with admin.connect() as conn:
                    conn.execute(sa.text(f'CREATE DATABASE "{pg_name}"'))
            to_load.append(url)
        if to_load:
            print(f"generating {args.touchpoints:,} touchpoints into {', '.join(to_load)}", file=sys.stderr)
            result["generation"] = generate(to_load, args.touchpoints, args.days, args.seed)
        CHILD_ENV.update(child_environment(args.dir, not args.no_bytecode_cache))
        result["bytecode_cache"] = not args.no_bytecode_cache
        timings = {}
        for name, url in backends.items():
            print(f"timing {name} (load {load():.2f})", file=sys.stderr)
            timings[name] = time_backend(name, url, args.repeat, args.dir)
    finally:
        dispose_engines()
        if not keep:
            if admin is not None:
                drop_postgres(admin, pg_name)
            for suffix in ("", "-wal", "-shm", ".init-lock"):
                Path(f"{sqlite_path}{suffix}").unlink(missing_ok=True)
        if admin is not None:
            admin.dispose()

    ok = True
    result["load_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result["results"] = {}
    for name, t in timings.items():
        lines = {}
        for command in (*COMMANDS, "report"):
            s = summary(t[command])
            s["bar_s"] = REPORT_BAR_S if command == "report" else QUERY_BAR_S
            s["ok"] = s["max_s"] < s["bar_s"]
            ok &= s["ok"]
            lines[command] = s
        lines["report_bytes"] = t["report_bytes"]
        result["results"][name] = lines
    if len(timings) == 2:
        result["same_answers"] = {c: timings["sqlite"][c][0]["stdout"] == timings["postgresql"][c][0]["stdout"]
                                  for c in COMMANDS}
        ok &= all(result["same_answers"].values())
    result["ok"] = ok
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{args.touchpoints:,} touchpoints, {args.days} days, seed {args.seed}; {result['cpus']} CPUs; "
              f"load average at start {result['load_at_start']}, at end {result['load_at_end']}; "
              f"bytecode cache {'on' if result['bytecode_cache'] else 'off'}")
        if "generation" in result:
            print("generation + bulk load: " + ", ".join(f"{k} {v}" for k, v in result["generation"].items()))
        print(f"{'database':<11} {'command':<9} {'median s':>9} {'max s':>7} {'bar s':>6}  {'runs s':<22} load 1-min")
        for name, lines in result["results"].items():
            for command in (*COMMANDS, "report"):
                s = lines[command]
                print(f"{name:<11} {command:<9} {s['median_s']:>9.2f} {s['max_s']:>7.2f} {s['bar_s']:>6.0f}  "
                      f"{str(s['runs_s']):<22} {s['load_1min']}  {'OK' if s['ok'] else 'ABOVE THE BAR'}")
        if "same_answers" in result:
            print("SQLite and PostgreSQL give identical JSON: " + ", ".join(f"{c} {v}" for c, v in result["same_answers"].items()))
        print("all bars met" if ok else "NOT all bars met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
