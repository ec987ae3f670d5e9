#!/usr/bin/env python3
"""Time to heal on the real native stack, selfheal against a bare receiver, in one script.

For each receiver the shipped stack (scripts/stack.sh: nginx, exporters, Prometheus,
Alertmanager) runs in a network namespace of its own; nginx is stopped (SIGTERM to its master)
at a random phase of the scrape cycle, N times, and the script times:
  kill -> alert firing (its startsAt) -> webhook received -> ansible-playbook started
       -> nginx healthy again (polled every 50 ms) -> verified (selfheal only)
The bare receiver (bench/peers/bare_receiver.py) is the seed's Flask pattern with the standard
library: on a firing NginxDown it starts the same playbook, stores and verifies nothing.
Prints a Markdown table of medians and p95s and the selfheal/bare ratios. A benchmark, not a
test: it never fails on a slow machine. Run as root (network namespaces).
  bench/time_to_heal.py [--kills N] [--profile fast|seed] [--bin target/release/selfheal]
"""
import argparse
import datetime
import json
import os
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def iso(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() if text else None


def pct(values, p):
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


class Stack:
    """The native stack in its own network namespace; `receiver` is selfheal or bare."""

    def __init__(self, receiver, profile, binary, work):
        self.receiver, self.work = receiver, work
        self.ns = f"selfheal-bench-{os.getpid()}-{receiver}"
        self.dir = os.path.join(work, receiver)
        os.makedirs(self.dir)
        self.env = {**os.environ, "STACK_DIR": self.dir, "STACK_BIN": binary}
        # Ten kills in a few minutes is what the circuit breaker exists to stop (it opens after
        # max_attempts): the benchmark measures heals, so it lifts the limit.
        with open(os.path.join(REPO, "selfheal.toml")) as f:
            config = re.sub(r"(?m)^max_attempts = \d+", "max_attempts = 1000", f.read())
        self.env["STACK_CONFIG"] = os.path.join(work, f"selfheal-{receiver}.toml")
        with open(self.env["STACK_CONFIG"], "w") as f:
            f.write(config)
        self.scrape = 1.0
        if profile == "seed":
            # The seed's values: 15 s scrape and evaluation, `for: 30s`.
            self.scrape = 15.0
            conf = os.path.join(work, f"prometheus-{receiver}")
            os.makedirs(conf)
            with open(os.path.join(REPO, "prometheus/prometheus.yml")) as f:
                text = f.read().replace("scrape_interval: 1s", "scrape_interval: 15s")
                text = text.replace("evaluation_interval: 1s", "evaluation_interval: 15s")
            with open(os.path.join(conf, "prometheus.yml"), "w") as f:
                f.write(text)
            with open(os.path.join(REPO, "prometheus/alert_rules.yml")) as f:
                rules = f.read().replace("for: 0s", "for: 30s")
            with open(os.path.join(conf, "alert_rules.yml"), "w") as f:
                f.write(rules)
            self.env["STACK_PROMETHEUS_CONFIG"] = os.path.join(conf, "prometheus.yml")
        subprocess.run(["ip", "netns", "add", self.ns], check=True)
        self.ns_run(["ip", "link", "set", "lo", "up"])
        self.ns_run(["bash", os.path.join(REPO, "scripts/stack.sh"), "up"], quiet=True)
        self.bare = None
        if receiver == "bare":
            # Alertmanager posts to 127.0.0.1:5000: the bare receiver takes selfheal's place.
            with open(os.path.join(self.dir, "run/selfheal.pid")) as f:
                os.kill(int(f.read()), 15)
            time.sleep(1)
            self.log = os.path.join(self.dir, "bare.jsonl")
            self.bare = subprocess.Popen(
                ["ip", "netns", "exec", self.ns, sys.executable,
                 os.path.join(REPO, "bench/peers/bare_receiver.py"), "5000", self.log],
                env=self.env)
            time.sleep(1)

    def ns_run(self, args, quiet=False):
        out = subprocess.DEVNULL if quiet else None
        subprocess.run(["ip", "netns", "exec", self.ns, *args], check=True, env=self.env, stdout=out)

    def get(self, url):
        r = subprocess.run(["ip", "netns", "exec", self.ns, "curl", "-fsS", "--max-time", "1", url],
                           capture_output=True, text=True)
        return r.stdout if r.returncode == 0 else None

    def query(self, q):
        body = self.get("http://127.0.0.1:9090/api/v1/query?query=" + urllib.parse.quote(q))
        return json.loads(body)["data"]["result"] if body else None

    def wait(self, what, check, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if check():
                return True
            time.sleep(0.05)
        print(f"  ({self.receiver}: gave up waiting for {what})", file=sys.stderr)
        return False

    def kill_nginx(self):
        with open(os.path.join(self.dir, "nginx/nginx.pid")) as f:
            os.kill(int(f.read()), 15)

    def healthy(self):
        return self.get("http://127.0.0.1:8080/health") is not None

    def quiet(self):
        return self.query('ALERTS{alertname=~"Nginx.*"}') == []

    def close(self):
        if self.bare:
            self.bare.terminate()
            self.bare.wait()
        subprocess.run(["ip", "netns", "exec", self.ns, "bash", os.path.join(REPO, "scripts/stack.sh"), "down"],
                       env=self.env, stdout=subprocess.DEVNULL)
        subprocess.run(["ip", "netns", "delete", self.ns])


def measure(stack, kills, settle):
    rows = []
    stack.wait("nginx_up", lambda: stack.query("nginx_up == 1"), 60)
    for i in range(kills):
        time.sleep(random.uniform(0, stack.scrape))  # a random phase of the scrape cycle
        t_kill = time.time()
        stack.kill_nginx()
        stack.wait("nginx down", lambda: not stack.healthy(), 5)
        if not stack.wait("nginx healthy", stack.healthy, 180):
            continue
        row = {"healthy": time.time() - t_kill}
        if stack.receiver == "selfheal":
            db = sqlite3.connect(f"file:{stack.dir}/selfheal.db?mode=ro", uri=True)

            def verified():
                r = db.execute("SELECT verification FROM heal_runs WHERE created_at >= ? ORDER BY id LIMIT 1",
                               (datetime.datetime.fromtimestamp(t_kill, datetime.timezone.utc)
                                .strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",)).fetchone()
                return r is not None and r[0] not in (None, "pending")
            stack.wait("verification", verified, 180)
            run = db.execute(
                "SELECT r.started_at, r.verified_at, r.verification, a.starts_at, a.first_seen_at "
                "FROM heal_runs r JOIN alerts a ON a.id = r.alert_id ORDER BY r.id DESC LIMIT 1").fetchone()
            db.close()
            started, verified_at, verdict, starts_at, seen = run
            row.update(firing=iso(starts_at) - t_kill, received=iso(seen) - t_kill,
                       started=iso(started) - t_kill,
                       verified=(iso(verified_at) - t_kill) if verdict == "verified" else None)
        else:
            events = [json.loads(line) for line in open(stack.log)]
            after = [e for e in events if e["t"] >= t_kill]
            first = lambda name: next((e["t"] - t_kill for e in after if e["event"] == name), None)
            row.update(received=first("received"), started=first("started"))
        rows.append(row)
        print(f"  {stack.receiver} kill {i + 1}/{kills}: " + ", ".join(
            f"{k} {v:.2f}s" for k, v in row.items() if v is not None), file=sys.stderr)
        stack.wait("alerts resolved", stack.quiet, 300)
        time.sleep(settle)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--profile", choices=["fast", "seed"], default="fast")
    ap.add_argument("--bin", default=os.path.join(REPO, "target/release/selfheal"))
    args = ap.parse_args()
    if not os.path.exists(args.bin):
        sys.exit(f"{args.bin} not found: run scripts/build.sh --release")
    work = tempfile.mkdtemp(prefix="selfheal-tth-")
    # The rules' cooldown (5 s) and verify_hold (3 s) must pass between two kills.
    settle = 6.0
    results = {}
    try:
        for receiver in ["selfheal", "bare"]:
            stack = Stack(receiver, args.profile, args.bin, work)
            try:
                results[receiver] = measure(stack, args.kills, settle)
            finally:
                stack.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"\nprofile: {args.profile}, kills per receiver: {args.kills}, "
          f"machine: {os.cpu_count()} cores, {os.uname().release}\n")
    print("| receiver | step (from the kill) | median s | p95 s | n |")
    print("|---|---|---|---|---|")
    for receiver, rows in results.items():
        for step in ["firing", "received", "started", "healthy", "verified"]:
            values = [r.get(step) for r in rows if r.get(step) is not None]
            if values:
                print(f"| {receiver} | {step} | {pct(values, 50):.2f} | {pct(values, 95):.2f} | {len(values)} |")
    s = [r["healthy"] for r in results.get("selfheal", [])]
    b = [r["healthy"] for r in results.get("bare", [])]
    if s and b:
        print(f"\nkill -> healthy, selfheal / bare: median {pct(s, 50) / pct(b, 50):.2f}x, "
              f"p95 {pct(s, 95) / pct(b, 95):.2f}x")


if __name__ == "__main__":
    main()
