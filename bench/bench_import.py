"""Customer CSV import through the import path against ``psql \\copy`` of the same file
into a plain table, in one run on one scratch database.

    .venv/bin/python bench/bench_import.py               # 100,000 rows
    .venv/bin/python bench/bench_import.py --rows 20000  # quicker

The file is generated (code, name, contact, address, phone, a custom ``fax``) and
written once. Timed: ``crm-api import customers FILE`` (the CLI runs the same job code
as the API's import, in-process) and ``psql -c "\\copy plain FROM FILE csv header"``.
The figure is ratio = import rows/s / copy rows/s (goal: at least 0.5). Peak memory
(RSS) of the import process is reported, to show it stays flat as files grow.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_me import DEFAULT_ADMIN_URL, log, scratch_database

from crm_api.cli import run_migrations

ROOT = Path(__file__).resolve().parents[1]
MAPPING = ROOT / "examples" / "northwind-customers-mapping.json"
HEADER = ["customer_id", "company_name", "contact_name", "contact_title", "address",
          "city", "region", "postal_code", "country", "phone", "fax"]  # fmt: skip
PLAIN_TABLE = """CREATE TABLE plain (customer_id text, company_name text, contact_name text,
    contact_title text, address text, city text, region text, postal_code text,
    country text, phone text, fax text)"""


def write_file(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for n in range(rows):
            writer.writerow([f"B{n:07d}", f"Company {n}, Ltd", f"Person {n}", "Owner",
                             f"Street {n}", "Berlin", "", f"{10000 + n % 90000}",
                             ("Germany", "USA", "China")[n % 3], f"030-{n:07d}",
                             f"030-{n:07d}9"])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    psql = shutil.which("psql")
    if psql is None:
        sys.exit("psql is needed for the baseline (apt-get install postgresql-client)")
    cli = str(Path(sys.executable).with_name("crm-api"))

    with (
        tempfile.TemporaryDirectory() as tmp,
        scratch_database(args.admin_url, False) as (
            _,
            url,
        ),
    ):
        run_migrations(url)
        data = Path(tmp) / "customers.csv"
        write_file(data, args.rows)
        log(f"wrote {args.rows:,} rows ({data.stat().st_size / 1e6:.1f} MB)")
        env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": args.redis_url,
               "CRM_JWT_SECRET": "bench-" + "x" * 40, "CRM_LOG_LEVEL": "WARNING",
               "CRM_PASSWORD_HASH_TIME_COST": "1", "CRM_PASSWORD_HASH_MEMORY_KIB": "1024"}  # fmt: skip
        subprocess.run(
            [cli, "create-tenant", "--name", "Bench", "--slug", "bench", "--currency", "EUR",
             "--time-zone", "Europe/Berlin", "--admin-email", "bench@bench.example.com",
             "--admin-name", "Bench", "--admin-password", "benchmark passphrase"],
            env=env, check=True, capture_output=True,
        )  # fmt: skip
        # The fax attribute, as the README's Northwind example defines it.
        subprocess.run(
            [psql, url, "-q", "-c",
             "INSERT INTO custom_attributes (id, tenant_id, entity, key, label, type, required,"
             " options, archived, position, version) SELECT gen_random_uuid(), id, 'customer',"
             " 'fax', 'Fax', 'text', false, '{}', false, 0, 1 FROM tenants"],
            check=True, capture_output=True,
        )  # fmt: skip

        started = time.perf_counter()
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        imported = subprocess.run(
            [cli, "import", "customers", str(data), "--mapping", str(MAPPING)],
            env=env, capture_output=True, text=True,
        )  # fmt: skip
        import_s = time.perf_counter() - started
        peak_kib = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before)
        if imported.returncode != 0:
            sys.exit(f"import failed: {imported.stderr[-2000:]}")
        report = json.loads(imported.stdout[imported.stdout.index("{") :])

        subprocess.run([psql, url, "-q", "-c", PLAIN_TABLE], check=True)
        started = time.perf_counter()
        subprocess.run(
            [psql, url, "-q", "-c", f"\\copy plain FROM '{data}' csv header"],
            check=True,
        )
        copy_s = time.perf_counter() - started

    result = {
        "bench": "import",
        "rows": args.rows,
        "import_s": round(import_s, 2),
        "copy_s": round(copy_s, 2),
        "import_rows_per_s": round(args.rows / import_s),
        "copy_rows_per_s": round(args.rows / copy_s),
        "ratio": round(copy_s / import_s, 3),
        "goal": ">= 0.5",
        "import_peak_rss_mb": round(peak_kib / 1024, 1),
        "created": report.get("rows_created"),
        "failed": report.get("rows_failed"),
    }
    (ROOT / "bench" / "results" / f"import-{int(time.time())}.json").write_text(
        json.dumps(result)
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
