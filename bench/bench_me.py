"""Requests/second of crm-api's ``GET /api/v1/me`` against a bare Starlette + asyncpg
endpoint doing the same work (bench/bare_app.py), in one run, on one scratch database.

    .venv/bin/python bench/bench_me.py                  # 3 rounds x 10 s, 32 connections
    .venv/bin/python bench/bench_me.py --rounds 5 --profile --py-spy /path/to/py-spy

What it does:
  1. creates a scratch database ``crm_bench_<random>`` (admin URL: --admin-url or
     $CRM_BENCH_ADMIN_URL) and runs the migrations on it;
  2. starts crm-api under uvicorn, signs a tenant up and signs its admin in through the
     real API (POST /api/v1/signup, POST /api/v1/auth/token) to get an access token;
  3. for each round starts each server in turn (one at a time, same uvicorn options:
     1 worker, uvloop + httptools when installed, no access log), checks that
     ``GET /api/v1/me`` answers 200 with the same JSON as crm-api, warms it up,
     loads it for a fixed time over a fixed number of keep-alive connections (wrk
     when installed, else a small asyncio client), and stops it.  The order rotates every round
     (crm,bare / bare,crm / ...) so slow drift of a noisy machine cancels out;
  4. prints a table and one JSON line, writes the JSON to bench/results/, and drops the
     database.

The headline figure is ratio = median crm-api rps / median bare rps.  The machine is
small and noisy: read ratios, never absolute numbers, and never treat one run as a
pass or a fail.  Server CPU time per request is reported too; it is less sensitive to
noise than rps.  Only 127.0.0.1 is ever loaded, and every run is bounded by --duration.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
HOST = "127.0.0.1"
ME_PATH = "/api/v1/me"
GOAL = 0.6
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/12"
BASELINE = "bare"


# --------------------------------------------------------------------------- helpers


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def with_database(url: str, name: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + name))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def has_module(name: str) -> bool:
    try:
        __import__(name)
    except ImportError:
        return False
    return True


def http(
    method: str,
    url: str,
    *,
    json_body: Any = None,
    form: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> tuple[int, Any]:
    data = None
    all_headers = dict(headers or {})
    if json_body is not None:
        data = json.dumps(json_body).encode()
        all_headers["Content-Type"] = "application/json"
    elif form is not None:
        data = urllib.parse.urlencode(form).encode()
        all_headers["Content-Type"] = "application/x-www-form-urlencoded"
    request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only
        url, data=data, method=method, headers=all_headers
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            body = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        body = error.read()
        status = error.code
    try:
        return status, json.loads(body) if body else None
    except ValueError:
        return status, body.decode(errors="replace")


def differences(expected: Any, got: Any, path: str = "") -> list[str]:
    """Where two JSON values differ (paths), to check the servers answer alike."""
    if isinstance(expected, dict) and isinstance(got, dict):
        found = []
        for key in sorted(expected.keys() | got.keys()):
            where = f"{path}.{key}" if path else key
            if key not in expected or key not in got:
                found.append(
                    f"{where} (only in {'crm' if key in expected else 'other'})"
                )
            else:
                found += differences(expected[key], got[key], where)
        return found
    return [] if expected == got else [path or "(body)"]


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def fmt(value: float | None, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


# ----------------------------------------------------------------- CPU and DB probes


_CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int | str) -> list[str]:
    # Fields after "(comm)": [0] is field 3 (state), so utime (14) is [11].
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def process_cpu_s(pid: int) -> float | None:
    try:
        fields = _stat_fields(pid)
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK  # utime + stime


def postgres_cpu_s() -> float | None:
    """CPU of the PostgreSQL server: every live postgres process, plus the
    postmaster's reaped children (backends that have exited, e.g. when a pool closes
    and reopens connections).  None when the server is not visible in /proc."""
    total, seen = 0.0, False
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            fields = _stat_fields(entry.name)
            parent = Path(f"/proc/{fields[1]}/comm").read_text().strip()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / _CLK_TCK
        if parent != "postgres":  # the postmaster: add cutime + cstime
            total += (int(fields[13]) + int(fields[14])) / _CLK_TCK
        seen = True
    return total if seen else None


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine."""
    first = Path("/proc/stat").read_text().split("\n", 1)[0]
    values = [int(v) for v in first.split()[1:]]
    idle = values[3] + values[4]
    return float(sum(values) - idle), float(sum(values))


async def _db_counters(admin_url: str, name: str) -> dict[str, Any]:
    connection = await asyncpg.connect(admin_url)
    try:
        for _ in range(100):  # wait for the server's backends to exit and flush stats
            busy = await connection.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", name
            )
            if not busy:
                break
            await asyncio.sleep(0.05)
        has_sessions = await connection.fetchval(
            "SELECT count(*) FROM information_schema.columns "
            "WHERE table_name = 'pg_stat_database' AND column_name = 'sessions'"
        )
        sessions = "sessions" if has_sessions else "NULL::bigint AS sessions"
        row = await connection.fetchrow(
            f"SELECT xact_commit, xact_rollback, {sessions} "  # noqa: S608
            "FROM pg_stat_database WHERE datname = $1",
            name,
        )
        return dict(row) if row else {}
    finally:
        await connection.close()


def db_counters(admin_url: str, name: str) -> dict[str, Any]:
    return asyncio.run(_db_counters(admin_url, name))


# ------------------------------------------------------------------ scratch database


async def _admin_execute(admin_url: str, statement: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextlib.contextmanager
def scratch_database(admin_url: str, keep: bool) -> Iterator[tuple[str, str]]:
    name = f"crm_bench_{secrets.token_hex(4)}"
    asyncio.run(_admin_execute(admin_url, f'CREATE DATABASE "{name}"'))
    log(f"created database {name}")
    try:
        yield name, with_database(admin_url, name)
    finally:
        if keep:
            log(f"kept database {name} (--keep-db)")
        else:
            asyncio.run(
                _admin_execute(
                    admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
                )
            )
            log(f"dropped database {name}")


# --------------------------------------------------------------------------- servers


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def uvicorn_options() -> list[str]:
    return [
        "--workers",
        "1",
        "--loop",
        "uvloop" if has_module("uvloop") else "auto",
        "--http",
        "httptools" if has_module("httptools") else "auto",
        "--no-access-log",
        "--log-level",
        "warning",
        "--lifespan",
        "on",
    ]


def start_server(
    name: str, target: str, env: dict[str, str], log_dir: Path, tag: str
) -> Server:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", target, "--host", HOST]
    command += ["--port", str(port), *uvicorn_options()]
    if name == BASELINE:
        command += ["--app-dir", str(BENCH_DIR)]
    log_path = log_dir / f"server-{name}-{tag}.log"
    with log_path.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    return Server(name=name, port=port, process=process, log_path=log_path)


def wait_listening(server: Server, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"{server.name} server exited ({server.process.returncode}):\n"
                + server.log_tail()
            )
        with contextlib.suppress(OSError):
            socket.create_connection((HOST, server.port), 0.2).close()
            return
        time.sleep(0.1)
    raise RuntimeError(f"{server.name} server did not listen in {timeout_s}s")


def stop_server(server: Server) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGINT)
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


def fetch_me(server: Server, token: str) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    return http("GET", server.base_url + ME_PATH, headers=headers)


# ---------------------------------------------------------------------- load: wrk


_WRK_SCRIPT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"non2xx":%d,"connect":%d,'
    .. '"read":%d,"write":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,'
    .. '"mean_us":%.1f}\\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write,
    e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.mean))
end
"""


def wrk_load(
    wrk: str,
    url: str,
    token: str,
    *,
    connections: int,
    threads: int,
    duration_s: float,
    script: Path,
) -> dict[str, Any]:
    command = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration_s))}s",
    ]
    command += ["--timeout", "5s", "-H", f"Authorization: Bearer {token}"]
    command += ["-s", str(script), url]
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=duration_s + 60, check=False
    )
    match = re.search(r"^WRK_JSON (\{.*\})$", completed.stdout, re.MULTILINE)
    if completed.returncode != 0 or match is None:
        raise RuntimeError(
            f"wrk failed ({completed.returncode}):\n{completed.stdout}\n{completed.stderr}"
        )
    raw = json.loads(match.group(1))
    elapsed_s = raw["duration_us"] / 1e6
    return {
        "requests": raw["requests"],
        "elapsed_s": round(elapsed_s, 3),
        "rps": raw["requests"] / elapsed_s if elapsed_s else 0.0,
        "non2xx": raw["non2xx"],
        "errors": raw["connect"] + raw["read"] + raw["write"] + raw["timeout"],
        "latency_ms": {
            "mean": raw["mean_us"] / 1000,
            "p50": raw["p50_us"] / 1000,
            "p90": raw["p90_us"] / 1000,
            "p99": raw["p99_us"] / 1000,
        },
    }


# ------------------------------------------------------------ load: asyncio fallback


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    match = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    if match:
        await reader.readexactly(int(match.group(1)))
        return status
    while True:  # chunked
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        await reader.readexactly(size + 2)
        if size == 0:
            return status


async def _python_load_async(
    port: int, token: str, *, connections: int, duration_s: float
) -> dict[str, Any]:
    request = (
        f"GET {ME_PATH} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
        f"Authorization: Bearer {token}\r\nAccept: */*\r\n\r\n"
    ).encode()
    loop = asyncio.get_running_loop()
    started = loop.time()
    deadline = started + duration_s
    latencies: list[float] = []
    counts = Counter[str]()

    async def client() -> None:
        writer: asyncio.StreamWriter | None = None
        while loop.time() < deadline:
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(HOST, port)
                sent = time.perf_counter()
                writer.write(request)
                status = await _read_response(reader)
                latencies.append(time.perf_counter() - sent)
                counts["ok" if 200 <= status < 400 else "non2xx"] += 1
            except (OSError, asyncio.IncompleteReadError, ValueError):
                counts["errors"] += 1
                if writer is not None:
                    writer.close()
                writer = None
                await asyncio.sleep(0.01)
        if writer is not None:
            writer.close()

    await asyncio.gather(*(client() for _ in range(connections)))
    elapsed_s = loop.time() - started
    latencies.sort()

    def pct(p: float) -> float:
        if not latencies:
            return 0.0
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000

    requests = counts["ok"] + counts["non2xx"]
    return {
        "requests": requests,
        "elapsed_s": round(elapsed_s, 3),
        "rps": requests / elapsed_s if elapsed_s else 0.0,
        "non2xx": counts["non2xx"],
        "errors": counts["errors"],
        "latency_ms": {
            "mean": statistics.fmean(latencies) * 1000 if latencies else 0.0,
            "p50": pct(50),
            "p90": pct(90),
            "p99": pct(99),
        },
    }


def python_load(
    port: int, token: str, *, connections: int, duration_s: float
) -> dict[str, Any]:
    coroutine = _python_load_async(
        port, token, connections=connections, duration_s=duration_s
    )
    if has_module("uvloop"):
        import uvloop

        return uvloop.run(coroutine)
    return asyncio.run(coroutine)


# ------------------------------------------------------------------ profile summary


_IDLE_LEAF = re.compile(
    r"^(Condition\.wait|Event\.wait|Queue\.get|_wait_for_tstate_lock) "
    r"\(.*/(threading|queue)\.py:"
)


def _frame_path(frame: str) -> str:
    match = re.search(r"\((.*):\d+\)$", frame)
    return match.group(1) if match else frame


def _frame_bucket(frame: str) -> str:
    path = _frame_path(frame)
    if "/crm_api/" in path:
        return "crm_api"
    match = re.search(r"site-packages/([A-Za-z0-9_]+)", path)
    if match:
        return match.group(1)
    match = re.search(r"/python3\.\d+/([A-Za-z0-9_]+)", path)
    if match:
        return f"stdlib:{match.group(1)}"
    return "other"


def _short(frame: str) -> str:
    match = re.match(r"(.*) \((.*):(\d+)\)$", frame)
    if not match:
        return frame
    func, path, line = match.groups()
    if "site-packages/" in path:
        path = path.split("site-packages/", 1)[1]
    elif "/src/" in path:
        path = path.split("/src/", 1)[1]
    elif re.search(r"/lib/python3\.\d+/", path):
        path = "stdlib/" + re.split(r"/lib/python3\.\d+/", path, maxsplit=1)[1]
    return f"{func} ({path}:{line})"


def summarize_profile(raw_path: Path, top: int = 25) -> dict[str, Any]:
    """Self time by package and function, and inclusive time of crm_api's functions.

    Pool threads waiting for work are dropped.  Note that SQLAlchemy's async layer runs
    the ORM inside greenlets, whose stacks py-spy shows without their callers, so
    inclusive figures undercount whatever runs under ``greenlet_spawn``.
    """
    self_by_frame = Counter[str]()
    self_by_bucket = Counter[str]()
    inclusive_own = Counter[str]()
    total = idle = 0
    for line in raw_path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [
            f
            for f in stack.split(";")
            if not f.startswith("process ") and not f.startswith("thread ")
        ]
        if not frames:
            continue
        if _IDLE_LEAF.match(frames[-1]):
            idle += count
            continue
        total += count
        self_by_frame[_short(frames[-1])] += count
        self_by_bucket[_frame_bucket(frames[-1])] += count
        own = {_short(f) for f in frames if "/crm_api/" in _frame_path(f)}
        for function in {re.sub(r":\d+\)$", ")", f) for f in own}:
            inclusive_own[function] += count

    def table(counter: Counter[str]) -> list[tuple[str, float]]:
        if not total:
            return []
        return [
            (name, round(100 * n / total, 1)) for name, n in counter.most_common(top)
        ]

    return {
        "samples": total,
        "idle_thread_samples_dropped": idle,
        "self_pct_by_package": table(self_by_bucket),
        "self_pct_top": table(self_by_frame),
        "crm_api_inclusive_pct": table(inclusive_own),
    }


# ----------------------------------------------------------------------- the runner


@dataclass
class RunResult:
    round: int
    server: str
    load: dict[str, Any]
    warmup_requests: int
    server_cpu_s: float | None
    cpu_us_per_req: float | None
    postgres_cpu_us_per_req: float | None
    machine_busy: float
    db_sessions_opened: int | None
    db_commits_per_req: float | None
    db_rollbacks: int | None

    @property
    def rps(self) -> float:
        return float(self.load["rps"])


@dataclass
class Bench:
    args: argparse.Namespace
    targets: dict[str, str]
    admin_url: str
    db_name: str
    env: dict[str, str]
    log_dir: Path
    token: str = ""
    reference_body: Any = None
    answer_mismatch: list[str] = field(default_factory=list)
    wrk: str | None = None
    wrk_script: Path | None = None

    def start(self, name: str, tag: str) -> Server:
        return start_server(name, self.targets[name], self.env, self.log_dir, tag)

    def load(self, server: Server, duration_s: float) -> dict[str, Any]:
        if self.wrk is not None:
            assert self.wrk_script is not None
            return wrk_load(
                self.wrk,
                server.base_url + ME_PATH,
                self.token,
                connections=self.args.connections,
                threads=self.args.threads,
                duration_s=duration_s,
                script=self.wrk_script,
            )
        return python_load(
            server.port,
            self.token,
            connections=self.args.connections,
            duration_s=duration_s,
        )

    def set_up_tenant(self) -> None:
        """Sign a tenant up and its admin in through crm-api's own API."""
        server = self.start("crm", "setup")
        try:
            wait_listening(server)
            suffix = secrets.token_hex(4)
            email = f"bench-{suffix}@example.com"
            password = "bench-" + secrets.token_hex(8)
            signup = {
                "tenant": {
                    "name": f"Bench {suffix}",
                    "slug": f"bench-{suffix}",
                    "default_currency": "EUR",
                    "time_zone": "UTC",
                },
                "admin": {
                    "email": email,
                    "full_name": "Bench Admin",
                    "password": password,
                },
            }
            status, body = http(
                "POST", server.base_url + "/api/v1/signup", json_body=signup
            )
            if status != 201:
                raise RuntimeError(f"signup answered {status}: {body}")
            status, body = http(
                "POST",
                server.base_url + "/api/v1/auth/token",
                form={"username": email, "password": password},
            )
            if status != 200:
                raise RuntimeError(f"sign-in answered {status}: {body}")
            self.token = body["access_token"]
            status, body = fetch_me(server, self.token)
            if status != 200:
                raise RuntimeError(f"GET {ME_PATH} answered {status}: {body}")
            self.reference_body = body
            log(
                f"signed up tenant bench-{suffix}; access token for {email} "
                f"(lifetime {self.env['CRM_ACCESS_TOKEN_TTL_S']}s)"
            )
        finally:
            stop_server(server)

    def check_ready(self, server: Server, timeout_s: float = 60.0) -> None:
        wait_listening(server, timeout_s)
        status, body = fetch_me(server, self.token)
        if status != 200:
            raise RuntimeError(
                f"{server.name}: GET {ME_PATH} answered {status}: {body}\n"
                + server.log_tail()
            )
        found = differences(self.reference_body, body)
        if found:
            note = f"{server.name}: answer differs from crm-api's at {', '.join(found)}"
            if note not in self.answer_mismatch:
                self.answer_mismatch.append(note)
                log("WARNING " + note)

    def run_one(self, round_no: int, name: str) -> RunResult:
        before_db = db_counters(self.admin_url, self.db_name)
        server = self.start(name, f"r{round_no}")
        try:
            self.check_ready(server)
            warmup_requests = 0
            if self.args.warmup > 0:
                warmup_requests = self.load(server, self.args.warmup)["requests"]
            cpu0 = process_cpu_s(server.process.pid)
            pg0 = postgres_cpu_s()
            busy0, total0 = machine_cpu()
            result = self.load(server, self.args.duration)
            cpu1 = process_cpu_s(server.process.pid)
            pg1 = postgres_cpu_s()
            busy1, total1 = machine_cpu()
            if server.process.poll() is not None:
                raise RuntimeError(
                    f"{name} server died under load:\n{server.log_tail()}"
                )
        finally:
            stop_server(server)
        after_db = db_counters(self.admin_url, self.db_name)
        requests = int(result["requests"])

        def per_request_us(before: float | None, after: float | None) -> float | None:
            if before is None or after is None or not requests:
                return None
            return (after - before) / requests * 1e6

        def db_delta(key: str) -> int | None:
            if before_db.get(key) is None or after_db.get(key) is None:
                return None
            return int(after_db[key]) - int(before_db[key])

        # The DB counters span the server's life: readiness check, warm-up and run.
        commits = db_delta("xact_commit")
        all_requests = 1 + warmup_requests + requests
        if result["non2xx"] or result["errors"]:
            log(
                f"WARNING {name}: {result['non2xx']} non-2xx answers, "
                f"{result['errors']} socket errors; log tail:\n{server.log_tail(10)}"
            )
        return RunResult(
            round=round_no,
            server=name,
            load=result,
            warmup_requests=warmup_requests,
            server_cpu_s=None if cpu0 is None or cpu1 is None else cpu1 - cpu0,
            cpu_us_per_req=per_request_us(cpu0, cpu1),
            postgres_cpu_us_per_req=per_request_us(pg0, pg1),
            machine_busy=(busy1 - busy0) / (total1 - total0)
            if total1 > total0
            else 0.0,
            db_sessions_opened=db_delta("sessions"),
            db_commits_per_req=None if commits is None else commits / all_requests,
            db_rollbacks=db_delta("xact_rollback"),
        )

    def profile(
        self, py_spy: str, extra: list[str], results_dir: Path, stamp: str
    ) -> dict[str, Any]:
        """Sample crm-api with py-spy under the same load (not counted in the figures)."""
        server = self.start("crm", "profile")
        raw_path = results_dir / f"me-profile-{stamp}.txt"
        duration_s = max(1, round(self.args.duration))
        command = [py_spy, "record", "--pid", str(server.process.pid)]
        command += [
            "--duration",
            str(duration_s),
            "--format",
            "raw",
            "--full-filenames",
        ]
        command += ["--rate", "200", "--nonblocking", *extra, "--output", str(raw_path)]
        try:
            self.check_ready(server)
            if self.args.warmup > 0:
                self.load(server, self.args.warmup)
            spy = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
            time.sleep(0.5)
            load = self.load(server, self.args.duration)
            output, _ = spy.communicate(timeout=duration_s + 60)
            if spy.returncode != 0:
                raise RuntimeError(f"py-spy failed: {output.decode(errors='replace')}")
        finally:
            stop_server(server)
        summary = summarize_profile(raw_path)
        summary["raw_collapsed_stacks"] = str(raw_path)
        summary["rps_while_profiled"] = round(load["rps"], 1)
        summary["py_spy_command"] = command[1:]
        return summary


# ---------------------------------------------------------------------- reporting


def summarize(runs: list[RunResult], names: list[str]) -> dict[str, Any]:
    per_server: dict[str, dict[str, Any]] = {}
    for name in names:
        own_runs = [r for r in runs if r.server == name]
        per_server[name] = {
            "rps_median": median([r.rps for r in own_runs]),
            "cpu_us_per_req_median": median(
                [r.cpu_us_per_req for r in own_runs if r.cpu_us_per_req]
            ),
            "p50_ms_median": median([r.load["latency_ms"]["p50"] for r in own_runs]),
            "p99_ms_median": median([r.load["latency_ms"]["p99"] for r in own_runs]),
        }
    base = per_server[BASELINE]
    for name in names:
        if name == BASELINE:
            continue
        mine = per_server[name]
        round_ratios = []
        for round_no in sorted({r.round for r in runs}):
            rps = {r.server: r.rps for r in runs if r.round == round_no}
            if rps.get(BASELINE) and name in rps:
                round_ratios.append(round(rps[name] / rps[BASELINE], 3))
        mine["ratio"] = (
            round(mine["rps_median"] / base["rps_median"], 3)
            if mine["rps_median"] and base["rps_median"]
            else None
        )
        mine["round_ratios"] = round_ratios
        mine["cpu_ratio"] = (
            round(base["cpu_us_per_req_median"] / mine["cpu_us_per_req_median"], 3)
            if mine["cpu_us_per_req_median"] and base["cpu_us_per_req_median"]
            else None
        )
    for stats in per_server.values():
        for key in ("rps_median", "cpu_us_per_req_median"):
            if stats[key] is not None:
                stats[key] = round(stats[key], 1)
    crm = per_server["crm"]
    return {
        "ratio": crm["ratio"],
        "goal": GOAL,
        "crm_rps_median": crm["rps_median"],
        "bare_rps_median": base["rps_median"],
        "round_ratios": crm["round_ratios"],
        "crm_cpu_us_per_req_median": crm["cpu_us_per_req_median"],
        "bare_cpu_us_per_req_median": base["cpu_us_per_req_median"],
        "cpu_ratio": crm["cpu_ratio"],
        "servers": per_server,
    }


def print_table(runs: list[RunResult], summary: dict[str, Any]) -> None:
    width = max(6, *(len(r.server) for r in runs))
    header = (
        f"{'round':>5} {'server':<{width}} {'rps':>8} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'non2xx':>6} {'err':>4} {'cpu us/req':>10} {'pg us/req':>9} "
        f"{'busy':>5} {'db sess':>7} {'tx/req':>6}"
    )
    print(header)
    print("-" * len(header))
    for r in runs:
        lat = r.load["latency_ms"]
        print(
            f"{r.round:>5} {r.server:<{width}} {r.rps:>8.1f} {lat['p50']:>7.2f} "
            f"{lat['p99']:>7.2f} {r.load['non2xx']:>6} {r.load['errors']:>4} "
            f"{fmt(r.cpu_us_per_req):>10} {fmt(r.postgres_cpu_us_per_req):>9} "
            f"{r.machine_busy:>5.0%} {fmt(r.db_sessions_opened, 'd'):>7} "
            f"{fmt(r.db_commits_per_req, '.2f'):>6}"
        )
    print("-" * len(header))
    servers = summary["servers"]
    base = servers[BASELINE]
    print(
        f"{BASELINE}: median {fmt(base['rps_median'])} rps, "
        f"{fmt(base['cpu_us_per_req_median'])} us CPU/request"
    )
    for name, stats in servers.items():
        if name == BASELINE:
            continue
        rounds = ", ".join(f"{x:.3f}" for x in stats["round_ratios"])
        print(
            f"{name}: median {fmt(stats['rps_median'])} rps, "
            f"{fmt(stats['cpu_us_per_req_median'])} us CPU/request; "
            f"ratio {name}/{BASELINE} = {fmt(stats['ratio'], '.3f')} "
            f"(per round: {rounds}); CPU ratio {BASELINE}/{name} = "
            f"{fmt(stats['cpu_ratio'], '.3f')}"
        )
    print(f"goal: crm/{BASELINE} rps ratio >= {GOAL} (a ratio, not a pass/fail)")


def print_profile(profile: dict[str, Any]) -> None:
    print(
        f"\npy-spy: {profile['samples']} busy samples of crm-api at "
        f"{profile['rps_while_profiled']} rps "
        f"({profile['idle_thread_samples_dropped']} idle pool-thread samples "
        f"dropped); raw stacks: {profile['raw_collapsed_stacks']}"
    )
    sections = (
        ("self time by package", "self_pct_by_package", 12),
        ("self time, top functions", "self_pct_top", 20),
        ("inclusive time of crm_api functions", "crm_api_inclusive_pct", 15),
    )
    for title, key, rows in sections:
        print(f"  {title}:")
        for name, pct in profile[key][:rows]:
            print(f"    {pct:5.1f}%  {name}")


# ---------------------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n", 1)[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    env = os.environ.get
    parser.add_argument(
        "--admin-url",
        default=env("CRM_BENCH_ADMIN_URL", DEFAULT_ADMIN_URL),
        help="PostgreSQL superuser URL used to create and drop the scratch database "
        "[$CRM_BENCH_ADMIN_URL]",
    )
    parser.add_argument(
        "--redis-url",
        default=env("CRM_BENCH_REDIS_URL", DEFAULT_REDIS_URL),
        help="Redis for crm-api [$CRM_BENCH_REDIS_URL]",
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="each runs every server once"
    )
    parser.add_argument(
        "--duration", type=float, default=10.0, help="seconds of measured load per run"
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=2.0,
        help="seconds of unmeasured load after each start (0: none)",
    )
    parser.add_argument(
        "--connections", type=int, default=32, help="concurrent keep-alive connections"
    )
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument(
        "--loadgen",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="auto: wrk if installed, else the built-in asyncio client",
    )
    parser.add_argument(
        "--crm-app",
        default="crm_api.asgi:app",
        help="uvicorn target of the crm-api side",
    )
    parser.add_argument(
        "--also",
        action="append",
        default=[],
        metavar="NAME=MODULE:APP",
        help="another server to put in the rotation (e.g. a variant of crm-api on "
        "PYTHONPATH), reported against the baseline too; repeatable",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="after the rounds, sample crm-api under load with py-spy "
        "(an extra run, not counted)",
    )
    parser.add_argument(
        "--py-spy",
        default=env("PY_SPY") or shutil.which("py-spy"),
        help="py-spy executable [$PY_SPY, else PATH]",
    )
    parser.add_argument(
        "--py-spy-args",
        default="",
        help="extra py-spy record arguments, e.g. '--gil' or '--native'",
    )
    parser.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results")
    parser.add_argument(
        "--keep-db", action="store_true", help="do not drop the database"
    )
    args = parser.parse_args()
    if args.rounds < 1 or args.duration <= 0 or args.connections < 1:
        parser.error("--rounds, --duration and --connections must be positive")
    if args.profile and not args.py_spy:
        parser.error(
            "--profile needs py-spy: install it into a scratch venv "
            "(python3 -m venv /tmp/spy && /tmp/spy/bin/pip install py-spy) "
            "and pass --py-spy /tmp/spy/bin/py-spy"
        )
    args.targets = {"crm": args.crm_app, BASELINE: "bare_app:app"}
    for item in args.also:
        name, sep, target = item.partition("=")
        if not sep or not name or ":" not in target or name in args.targets:
            parser.error(f"--also wants a new NAME=MODULE:APP, not {item!r}")
        args.targets[name] = target
    return args


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # so that servers are stopped and the database dropped


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, _interrupt)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    args.results_dir.mkdir(parents=True, exist_ok=True)
    names = list(args.targets)

    wrk = shutil.which("wrk") if args.loadgen in ("auto", "wrk") else None
    if args.loadgen == "wrk" and wrk is None:
        log("wrk is not installed (apt-get install wrk)")
        return 2
    loadgen = "wrk" if wrk else "python"
    per_run_s = args.duration + args.warmup + 15
    ttl_s = max(900, int(2 * (args.rounds * len(names) + 2) * per_run_s))
    log(
        f"servers: {', '.join(names)}; load generator: {loadgen}; {args.rounds} "
        f"rounds x {args.duration:g}s, {args.connections} connections, "
        f"warm-up {args.warmup:g}s"
    )

    from crm_api.cli import run_migrations

    runs: list[RunResult] = []
    profile: dict[str, Any] | None = None
    with (
        tempfile.TemporaryDirectory(prefix="crm-bench-") as tmp,
        scratch_database(args.admin_url, args.keep_db) as (db_name, db_url),
    ):
        run_migrations(db_url)
        log("migrations applied")
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "REDIS_URL": args.redis_url,
            "CRM_JWT_SECRET": secrets.token_hex(32),
            "CRM_LOG_LEVEL": "WARNING",
            # One token serves the whole run; its lifetime does not change the path.
            "CRM_ACCESS_TOKEN_TTL_S": str(ttl_s),
        }
        bench = Bench(
            args=args,
            targets=args.targets,
            admin_url=args.admin_url,
            db_name=db_name,
            env=env,
            log_dir=Path(tmp),
            wrk=wrk,
        )
        if wrk:
            bench.wrk_script = Path(tmp) / "report.lua"
            bench.wrk_script.write_text(_WRK_SCRIPT)
        bench.set_up_tenant()
        for round_no in range(1, args.rounds + 1):
            # Rotate the order each round (2 servers: crm,bare then bare,crm ...).
            shift = (round_no - 1) % len(names)
            order = names[shift:] + names[:shift]
            for name in order:
                run = bench.run_one(round_no, name)
                runs.append(run)
                log(
                    f"round {round_no} {name:<6} {run.rps:8.1f} rps "
                    f"(p50 {run.load['latency_ms']['p50']:.2f} ms, "
                    f"{fmt(run.cpu_us_per_req)} us CPU/request)"
                )
        if args.profile:
            log("profiling crm-api with py-spy")
            extra = args.py_spy_args.split()
            profile = bench.profile(args.py_spy, extra, args.results_dir, stamp)

    summary = summarize(runs, names)
    record = {
        "bench": "me",
        "timestamp": stamp,
        **summary,
        "config": {
            "rounds": args.rounds,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "connections": args.connections,
            "loadgen": loadgen,
            "wrk_threads": args.threads if wrk else None,
            "targets": args.targets,
            "uvicorn": uvicorn_options(),
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
        },
        "answer_mismatch": bench.answer_mismatch,
        "runs": [asdict(r) for r in runs],
        "profile": profile,
    }
    print()
    print_table(runs, summary)
    if profile:
        print_profile(profile)
    out = args.results_dir / f"me-{stamp}.json"
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"\nresults: {out}")
    keys = [
        "bench",
        "timestamp",
        "ratio",
        "goal",
        "crm_rps_median",
        "bare_rps_median",
        "round_ratios",
        "crm_cpu_us_per_req_median",
        "bare_cpu_us_per_req_median",
        "cpu_ratio",
    ]
    compact = {key: record[key] for key in keys} | {"loadgen": loadgen}
    print(json.dumps(compact, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
