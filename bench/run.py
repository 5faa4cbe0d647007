"""Benchmark Ledger's pages against a bare Flask floor, at depth and at scale.

    make bench                                   # full size (the numbers in the README)
    .venv/bin/python bench/run.py --small        # the other ledgers at 1 % (CI)
    .venv/bin/python bench/run.py --small --profile dashboard

It builds the dataset (``bench/dataset.py``): a full-size database and a
small one, or only the small one with ``--small``. It serves each with
gunicorn on 127.0.0.1 exactly as a host would (production settings, the real
password hash), and the floor, a bare Flask app answering a constant page,
with the same gunicorn settings; and the signed-in ceiling
(``bench/signed_in.py``), Ledger with one signed-in page that does nothing.
wrk then measures, one after the other at fixed concurrency and time: the
floor; the stylesheet and the signed-in ceiling (what every request, and
every signed-in request, pays before a page's own work); the long-lived
couple's pages; the new couple's; the long-lived couple's on the small
instance; the worst-case diff; a propose-then-accept write; logging in; the
floor again.

Each page is reported with requests per second, p50 and p99 latency and its
ratio to the floor (the mean of the two floor runs): the load generator and
the servers share the machine, so only ratios within one run mean anything.
The table is printed and written as JSON to ``bench/results/<size>.json``,
with each target of the speed issue and whether it was met. It exits
non-zero only when the benchmark itself broke (a page that did not answer as
expected, a dataset that does not verify), never because of a timing.

``--profile PAGE`` serves Ledger with every worker under pyinstrument
(``bench/profile.py``), measures only that page, and writes each worker's
profile to ``bench/results/profile-<page>-<pid>.txt``.
"""

import argparse
import http.client
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from statistics import mean
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))

import config as config_module
from bench import dataset

#: What the speed issue asks, as ratios to the floor within one run.
FLOOR_RATIOS = {"pause": 0.50, "dashboard": 0.33, "agreement": 0.33, "history": 0.33, "diff": 0.33}
READ_P99_MS = 50
WRITE_P99_MS = 100
#: The long-lived couple's pages against the new couple's, and the full-size
#: instance's against the small one's: each within this factor.
FLAT = 1.25
WORKER_RSS_MB = 100

SESSION_COOKIE = config_module.ProductionConfig.SESSION_COOKIE_NAME
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
BASE_URL = "https://ledger.bench.invalid"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def production_env(workdir, database_url, secret):
    """The environment a host would give Ledger, on 127.0.0.1 and this database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEDGER_", "SMTP"))}
    return {
        **env,
        "LEDGER_ENV": "production",
        "SECRET_KEY": secret,
        "LEDGER_BASE_URL": BASE_URL,
        "LEDGER_TRUSTED_HOSTS": "127.0.0.1",
        "LEDGER_DATABASE_URL": database_url,
        "LEDGER_INSTANCE_PATH": workdir,
    }


def build(workdir, name, small, secret):
    """Build one instance's database in a child process; return its Dataset as a dict."""
    path = Path(workdir) / f"{name}.sqlite3"
    url = f"sqlite:///{path}"
    env = production_env(workdir, url, secret)
    command = [sys.executable, str(BENCH / "dataset.py"), *(["--small"] if small else [])]
    out = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"Building the {name} dataset failed:\n{out.stderr[-4000:]}")
    built = json.loads(out.stdout.strip().splitlines()[-1])
    built["url"] = url
    return built


def verify(workdir, instance, secret):
    """Run ``flask --app ledger verify`` on an instance; stop the benchmark if it fails."""
    env = production_env(workdir, instance["url"], secret)
    out = subprocess.run(
        [str(ROOT / ".venv/bin/flask"), "--app", "ledger", "verify"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise SystemExit(f"The dataset does not verify:\n{out.stderr[-2000:]}")
    return out.stdout.strip()


def serve(target, env, port, workers, extra=()):
    command = [
        str(ROOT / ".venv/bin/gunicorn"),
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        *extra,
        target,
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    for _ in range(300):
        if process.poll() is not None:
            raise SystemExit(f"gunicorn ({target}) exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"gunicorn did not start on port {port}")


def stop(process):
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    process.wait(timeout=30)


def fetch(port, method, path, cookie=None, form=None):
    """One request to 127.0.0.1; return (status, headers, body)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Cookie": cookie} if cookie else {}
    body = None
    if form is not None:
        body = urlencode(form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    result = response.status, response.headers, response.read().decode()
    connection.close()
    return result


def session_cookie(headers):
    for value in headers.get_all("Set-Cookie") or ():
        name, _, rest = value.partition("=")
        if name == SESSION_COOKIE:
            return f"{name}={rest.split(';', 1)[0]}"
    return None


def login_form(port):
    """A fresh login page: (its session cookie, its CSRF token)."""
    status, headers, body = fetch(port, "GET", "/login")
    cookie, token = session_cookie(headers), CSRF.search(body)
    if status != 200 or not cookie or not token:
        raise SystemExit(f"The login page did not answer as expected ({status}).")
    return cookie, token.group(1)


def log_in(port, email):
    """Log in through the form, with the real password hash; return the session cookie."""
    cookie, token = login_form(port)
    form = {"email": email, "password": dataset.PASSWORD, "csrf_token": token}
    status, headers, _ = fetch(port, "POST", "/login", cookie, form)
    signed_in = session_cookie(headers)
    if status != 302 or not signed_in:
        raise SystemExit(f"Logging in as {email} failed ({status}).")
    return signed_in


def wrk(url, seconds, script, args=(), threads=2, connections=8):
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "30s",
        "-s",
        str(BENCH / "wrk" / script),
        url,
        "--",
        *args,
    ]
    out = subprocess.run(command, capture_output=True, text=True)
    line = next((x for x in reversed(out.stdout.splitlines()) if x.startswith("{")), None)
    if out.returncode or line is None:
        raise SystemExit(f"wrk failed on {url}:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    result = json.loads(line)
    result["rps"] = round(result["requests"] / result["seconds"], 2)
    return result


def settle(port):
    """Wait until a server has answered what wrk sent before it stopped: those
    requests are still queued and would otherwise slow the next measurement.
    (The floor has no stylesheet: its 404 is as quick.)"""
    for _ in range(2):
        fetch(port, "GET", "/static/style.css")


def worker_rss_mb(master_pid):
    """Resident memory of each worker of a gunicorn master, in MB."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    sizes = []
    for pid in children:
        status = Path(f"/proc/{pid}/status").read_text()
        sizes.append(round(int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024, 1))
    return sizes


def machine():
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "system": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "wrk": subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split()[1],
    }


def pages_of(couple):
    """The read pages of a couple: name -> path."""
    agreement = f"/ledgers/{couple['ledger_id']}/agreements/{couple['agreement_id']}"
    return {
        "pause": "/pause",
        "dashboard": f"/ledgers/{couple['ledger_id']}/agreements",
        "agreement": agreement,
        "history": f"{agreement}/history",
        "diff": f"{agreement}/diff",
    }


class Run:
    """The measurements of one run, in order, and what they add up to."""

    def __init__(self, options):
        self.options = options
        self.rows = []

    def measure(self, name, who, port, script, args=(), **wrk_options):
        result = wrk(
            f"http://127.0.0.1:{port}{name[1]}", self.options.seconds, script, args, **wrk_options
        )
        settle(port)
        row = {"page": name[0], "who": who, "path": name[1], **result}
        self.rows.append(row)
        print(f"  {name[0]:<14} {who:<22} {result['rps']:>9.1f} req/s", flush=True)
        if result["bad"] or result["socket_errors"]:
            raise SystemExit(f"{name[0]} ({who}) did not answer as expected: {result}")
        return row

    def row(self, page, who):
        return next((r for r in self.rows if r["page"] == page and r["who"] == who), None)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="the other ledgers at 1 %%")
    parser.add_argument("--seconds", type=int, help="per measurement (10; 3 with --small)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (2)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (8)")
    parser.add_argument("--verify", action="store_true", help="verify the full-size dataset too")
    parser.add_argument("--profile", metavar="PAGE", help="profile one page instead")
    parser.add_argument("--out", default=str(BENCH / "results"), help="where the JSON goes")
    parser.add_argument("--keep", action="store_true", help="keep the databases (printed)")
    options = parser.parse_args()
    options.seconds = options.seconds or (3 if options.small else 10)
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install -y wrk (make bench does it)")
    size = "small" if options.small else "full"
    started = time.monotonic()

    workdir = tempfile.mkdtemp(prefix="ledger-bench-")
    secret = secrets.token_hex(32)
    servers = []
    try:
        print(f"Building the datasets in {workdir} ...", flush=True)
        instances = {"small": build(workdir, "small", True, secret)}
        if not options.small:
            instances["full"] = build(workdir, "full", False, secret)
        for name, instance in instances.items():
            print(f"  {name}: {instance['counts']} in {instance['seconds']:.0f} s", flush=True)
        print("  " + verify(workdir, instances["small"], secret), flush=True)
        if options.verify and "full" in instances:
            print("  " + verify(workdir, instances["full"], secret), flush=True)

        main_name = size
        ports = {
            "floor": free_port(),
            "signed in": free_port(),
            **{name: free_port() for name in instances},
        }
        env = production_env(workdir, instances[main_name]["url"], secret)
        extra = ()
        if options.profile:
            profiles = Path(options.out)
            profiles.mkdir(parents=True, exist_ok=True)
            env["LEDGER_PROFILE_DIR"] = str(profiles)
            env["LEDGER_PROFILE_PAGE"] = options.profile
            extra = ("--config", str(BENCH / "profile.py"))
        floor_env = production_env(workdir, "", secret)
        servers.append(
            serve("floor:app", floor_env, ports["floor"], options.workers, ("--chdir", str(BENCH)))
        )
        # The signed-in ceiling: Ledger and one empty signed-in page, on the
        # measured instance's database (its sessions are good there too).
        ceiling_env = production_env(workdir, instances[main_name]["url"], secret)
        servers.append(
            serve(
                "signed_in:app",
                ceiling_env,
                ports["signed in"],
                options.workers,
                ("--chdir", str(BENCH)),
            )
        )
        apps = {}
        for name, instance in instances.items():
            instance_env = production_env(workdir, instance["url"], secret)
            if name == main_name:
                instance_env = env
            apps[name] = serve(
                "ledger:create_app()", instance_env, ports[name], options.workers, extra
            )
            servers.append(apps[name])
        results = measure_all(options, instances, ports, main_name)
        rss = worker_rss_mb(apps[main_name].pid)
    finally:
        for server in servers:
            stop(server)
        if options.keep:
            print(f"Kept the databases in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if options.profile:
        for path in sorted(Path(options.out).glob(f"profile-{options.profile}-*.txt")):
            print(f"Profile: {path}")
        return
    report(options, size, instances, results, rss, time.monotonic() - started)


def measure_all(options, instances, ports, main_name):
    main = instances[main_name]
    port = ports[main_name]
    long, new = main["long"], main["new"]
    print("Signing in ...", flush=True)
    cookies = {
        "sam": log_in(port, long["emails"][0]),
        "alex": log_in(port, long["emails"][1]),
        "nia": log_in(port, new["emails"][0]),
    }
    if "full" in instances and main_name == "full":
        cookies["sam small"] = log_in(ports["small"], instances["small"]["long"]["emails"][0])
    run = Run(options)
    long_pages, new_pages = pages_of(long), pages_of(new)
    worst_id, old, new_number = long["worst_diff"]
    worst = f"/ledgers/{long['ledger_id']}/agreements/{worst_id}/diff?from={old}&to={new_number}"

    if options.profile:
        path = {**long_pages, "worst diff": worst}.get(options.profile)
        if path is None:
            raise SystemExit(f"--profile takes one of: {', '.join(long_pages)}, worst diff")
        wrk(f"http://127.0.0.1:{port}{path}", 1, "page.lua", [cookies["sam"]])
        run.measure(
            (options.profile, path), "long-lived couple", port, "page.lua", [cookies["sam"]]
        )
        return run

    print("Warming up ...", flush=True)
    for who, paths in (("sam", [*long_pages.values(), worst]), ("nia", new_pages.values())):
        for path in paths:
            wrk(f"http://127.0.0.1:{port}{path}", 1, "page.lua", [cookies[who]])
    wrk(f"http://127.0.0.1:{ports['floor']}/", 1, "page.lua", [""])
    wrk(f"http://127.0.0.1:{ports['signed in']}/bench/signed-in", 1, "page.lua", [cookies["sam"]])

    print(f"Measuring, {options.seconds} s each:", flush=True)
    floor = ("floor", "/")
    run.measure(floor, "floor before", ports["floor"], "page.lua", [""])
    # What any request to Ledger pays before a page's own work, and what any
    # signed-in request pays (a page that does nothing but answer).
    run.measure(("stylesheet", "/static/style.css"), "anyone", port, "page.lua", [""])
    run.measure(
        ("signed in", "/bench/signed-in"),
        "ceiling",
        ports["signed in"],
        "page.lua",
        [cookies["sam"]],
    )
    # Page by page, so the couples and instances are compared a moment apart.
    small_pages = pages_of(instances["small"]["long"]) if "sam small" in cookies else {}
    for page, path in long_pages.items():
        run.measure((page, path), "long-lived couple", port, "page.lua", [cookies["sam"]])
        run.measure((page, new_pages[page]), "new couple", port, "page.lua", [cookies["nia"]])
        if small_pages:
            run.measure(
                (page, small_pages[page]),
                "long-lived, small",
                ports["small"],
                "page.lua",
                [cookies["sam small"]],
            )
    run.measure(("worst diff", worst), "long-lived couple", port, "page.lua", [cookies["sam"]])
    threads = options.connections  # one connection per thread: a write is four requests
    run.measure(
        ("write", f"/ledgers/{long['ledger_id']}/agreements"),
        "long-lived couple",
        port,
        "write.lua",
        [
            cookies["sam"],
            cookies["alex"],
            str(long["ledger_id"]),
            ",".join(map(str, long["writes"])),
            str(threads),
        ],
        threads=threads,
        connections=options.connections,
    )
    cookie, token = login_form(port)
    body = urlencode(
        {"email": long["emails"][0], "password": dataset.PASSWORD, "csrf_token": token}
    )
    run.measure(("login", "/login"), "long-lived couple", port, "page.lua", [cookie, "302", body])
    run.measure(floor, "floor after", ports["floor"], "page.lua", [""])
    return run


def report(options, size, instances, run, rss, elapsed):
    floor_rps = mean(r["rps"] for r in run.rows if r["page"] == "floor")
    for row in run.rows:
        rps = row["writes"] / row["seconds"] if row["page"] == "write" else row["rps"]
        row["ratio"] = round(rps / floor_rps, 3)
    targets = []

    def target(what, value, limit, met):
        targets.append({"target": what, "value": value, "limit": limit, "met": bool(met)})

    long_who = "long-lived couple"
    for page, limit in FLOOR_RATIOS.items():
        row = run.row(page, long_who)
        target(f"{page}: requests/s vs floor", row["ratio"], f">= {limit}", row["ratio"] >= limit)
    for row in run.rows:
        if row["page"] in (*FLOOR_RATIOS, "worst diff") and row["who"] == long_who:
            target(
                f"{row['page']}: p99 ms",
                row["p99_ms"],
                f"< {READ_P99_MS}",
                row["p99_ms"] < READ_P99_MS,
            )
    write = run.row("write", long_who)
    target(
        "write: p99 ms",
        write["write_p99_ms"],
        f"< {WRITE_P99_MS}",
        write["write_p99_ms"] < WRITE_P99_MS,
    )
    # Flat: how many times slower the long-lived couple's page is than the new
    # couple's, and the full-size instance's than the small one's (× floor).
    depth, scale = {}, {}
    for page in FLOOR_RATIOS:
        deep, fresh = run.row(page, long_who), run.row(page, "new couple")
        depth[page] = times_slower(deep["rps"], fresh["rps"])
        target(
            f"{page}: long-lived couple, times slower than the new one",
            depth[page],
            f"<= {FLAT}",
            depth[page] is not None and depth[page] <= FLAT,
        )
        small = run.row(page, "long-lived, small")
        if small is not None:
            scale[page] = times_slower(deep["ratio"], small["ratio"])
            target(
                f"{page}: full-size instance, times slower than the small one",
                scale[page],
                f"<= {FLAT}",
                scale[page] is not None and scale[page] <= FLAT,
            )
    target("largest worker's memory, MB", max(rss), f"< {WORKER_RSS_MB}", max(rss) < WORKER_RSS_MB)

    results = {
        "size": size,
        "note": (
            "Full size: what a host can expect."
            if size == "full"
            else "SMALL run (--small): the other ledgers at 1 %; only the code path is checked."
        ),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "settings": {
            "gunicorn_workers": options.workers,
            "wrk_connections": options.connections,
            "seconds_each": options.seconds,
            "reads": f"wrk -t2 -c{options.connections}",
            "write": f"wrk -t{options.connections} -c{options.connections} (a thread each)",
        },
        "datasets": {
            name: {"counts": i["counts"], "build_seconds": round(i["seconds"], 1)}
            for name, i in instances.items()
        },
        "floor_rps": round(floor_rps, 1),
        "floor_drift": round(
            run.row("floor", "floor after")["rps"] / run.row("floor", "floor before")["rps"], 3
        ),
        "pages": run.rows,
        "depth": depth,
        "scale": scale,
        "worker_rss_mb": rss,
        "targets": targets,
        "seconds": round(elapsed),
    }
    print_table(results)
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{size}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nWritten to {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def times_slower(rps, reference_rps):
    """How many times slower ``rps`` is than ``reference_rps`` (None without both)."""
    if not rps or not reference_rps:
        return None
    return round(reference_rps / rps, 3)


def print_table(results):
    print(f"\n{results['note']}")
    print(f"Floor: {results['floor_rps']:.0f} req/s (after/before: {results['floor_drift']})\n")
    header = f"{'page':<12} {'who':<20} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'× floor':>8}"
    print(header)
    print("-" * len(header))
    for row in results["pages"]:
        p50, p99 = row["p50_ms"], row["p99_ms"]
        if row["page"] == "write":
            p50, p99 = row["write_p50_ms"], row["write_p99_ms"]
        rps = row["writes"] / row["seconds"] if row["page"] == "write" else row["rps"]
        print(
            f"{row['page']:<12} {row['who']:<20} {rps:>9.1f} {p50:>8.1f} {p99:>8.1f} "
            f"{row['ratio']:>8.3f}"
        )
    print("\nTargets:")
    for t in results["targets"]:
        print(f"  {'met   ' if t['met'] else 'MISSED'} {t['target']}: {t['value']} ({t['limit']})")


if __name__ == "__main__":
    main()
