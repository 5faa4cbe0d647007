"""Benchmark Ledger's pages as ratios against a bare Flask floor.

Both apps run under gunicorn at the same time on 127.0.0.1, each with the
same number of workers; wrk measures them in turns (floor, page, floor, ...),
so what the two cores are doing affects both alike. Results are printed as
one JSON line per page: requests per second and latencies, and their ratio
to the floor measured right before. Never compare absolute numbers across
runs or machines.

    .venv/bin/python bench/run.py [--seconds 5] [--agreements 40]
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAUSE = {
    "signal": "A T with both hands",
    "meaning": "I'm flooded and need to stop.",
    "who_may_call": "Any of us",
    "minimum_minutes": "20",
    "grounding": "Separate rooms, slow breathing.",
    "way_back_who": "The one who called it",
    "way_back_hours": "2",
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(database_url, agreements):
    """Fill a database through the app itself; return Sam's session cookie and ids."""
    from ledger import create_app
    from ledger.db import db
    from ledger.schema import upgrade
    from tests.helpers import AuthActions, answer, create_ledger, invite, join, post_form, propose

    app = create_app({"ENV_NAME": "testing", "DATABASE_URL": database_url})
    with app.app_context():
        upgrade(db.database)
    sam, alex = app.test_client(), app.test_client()
    AuthActions(sam).register()
    AuthActions(alex).register(email="alex@example.org", name="Alex")
    ledger_id = create_ledger(sam)
    join(alex, invite(sam, ledger_id)[1])
    path = propose(sam, ledger_id, "pause_signal", **PAUSE)
    answer(alex, path, 1)
    for n in range(agreements):
        page = propose(sam, ledger_id, title=f"Agreement {n}", text="Words " * 30)
        answer(alex, page, 1)
        post_form(
            sam,
            f"{page}/change",
            {
                "title": f"Agreement {n}",
                "text": "New words " * 30,
                "base": "1",
                "action": "propose",
            },
        )
    cookie = sam.get_cookie("ledger_session").value
    return cookie, ledger_id, path


def serve(args, env, port):
    command = [
        str(ROOT / ".venv/bin/gunicorn"),
        "--workers",
        "2",
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        *args,
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"gunicorn did not start on port {port}")


def wrk(url, seconds, cookie=None):
    command = ["wrk", "-t2", "-c8", f"-d{seconds}s", "--latency", url]
    if cookie:
        command[1:1] = ["-H", f"Cookie: ledger_session={cookie}"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)

    def latency(label):
        value, unit = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    return {
        "rps": rps,
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "errors": int(non_2xx.group(1)) if non_2xx else 0,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--agreements", type=int, default=40)
    options = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install -y wrk")

    workdir = tempfile.mkdtemp(prefix="ledger-bench-")
    database_url = f"sqlite:///{workdir}/ledger.sqlite3"
    os.environ["LEDGER_INSTANCE_PATH"] = workdir
    cookie, ledger_id, agreement = seed(database_url, options.agreements)
    env = {
        **os.environ,
        "LEDGER_ENV": "testing",
        "LEDGER_DATABASE_URL": database_url,
        "LEDGER_INSTANCE_PATH": workdir,
    }
    floor_port, app_port = free_port(), free_port()
    servers = [
        serve(["--chdir", str(ROOT / "bench"), "floor:app"], env, floor_port),
        serve(["ledger:create_app()"], env, app_port),
    ]
    pages = {
        "login (anonymous)": ("/login", None),
        "pause page": ("/pause", cookie),
        "dashboard": (f"/ledgers/{ledger_id}/agreements", cookie),
        "agreement": (agreement, cookie),
        "history": (f"{agreement}/history", cookie),
    }
    try:
        for path, with_cookie in pages.values():  # warm every worker up
            wrk(f"http://127.0.0.1:{app_port}{path}", 1, with_cookie)
        for name, (path, with_cookie) in pages.items():
            floor = wrk(f"http://127.0.0.1:{floor_port}/", options.seconds)
            page = wrk(f"http://127.0.0.1:{app_port}{path}", options.seconds, with_cookie)
            print(
                json.dumps(
                    {
                        "page": name,
                        "rps": page["rps"],
                        "floor_rps": floor["rps"],
                        "rps_ratio": round(page["rps"] / floor["rps"], 3),
                        "p50_ratio": round(page["p50_ms"] / max(floor["p50_ms"], 0.001), 2),
                        "p99_ratio": round(page["p99_ms"] / max(floor["p99_ms"], 0.001), 2),
                        "errors": page["errors"],
                    }
                ),
                flush=True,
            )
    finally:
        for server in servers:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
