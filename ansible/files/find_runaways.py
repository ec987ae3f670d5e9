#!/usr/bin/env python3
"""Find runaway processes of a service: run on the target by system-recovery.yml.

Samples every process's CPU time twice (--sample-seconds apart) and reads its resident memory,
then prints JSON: the processes whose command line matches --pattern and which use more than
--cpu-percent of one CPU or more than --memory-mb resident, minus the protected ones (pid 1,
this script and its ancestors, and any command line matching a --protect pattern). With
--top-memory only the largest of those over --memory-mb is reported (a memory alert heals by
killing the top offender, not every process that holds memory). A threshold left out is not
checked.
With --root, only the service's own processes are candidates: those whose command line matches
--root (one nginx instance names its prefix folder there) and everything they started. Another
nginx on the same machine (a second stack, a container whose processes the host can see) is
never touched. Without it (inside the nginx container) every process it can see is in scope.
Read-only: it never signals anything, so it is safe in --check mode. Needs only the standard
library: the compose stack runs it inside the nginx container as `python3 -c SOURCE ARGS`.
"""
import argparse
import json
import os
import re
import sys
import time

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def read_cmdline(pid):
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()


def read_stat(pid):
    """(parent pid, CPU seconds used, resident bytes) of a process."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        data = f.read().decode("utf-8", "replace")
    # The command name is in parentheses and may contain spaces: split after the last ')'.
    fields = data[data.rindex(")") + 2:].split()
    ppid, utime, stime, rss_pages = int(fields[1]), int(fields[11]), int(fields[12]), int(fields[21])
    return ppid, (utime + stime) / CLOCK_TICKS, rss_pages * PAGE_SIZE


def snapshot():
    procs = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            procs[int(name)] = read_stat(int(name))
        except (OSError, ValueError, IndexError):
            continue  # exited meanwhile, or a kernel thread we cannot read
    return procs


def ancestors(pid, procs):
    seen = set()
    while pid > 0 and pid not in seen:
        seen.add(pid)
        pid = procs.get(pid, (0,))[0]
    return seen


def descendants_of(roots, procs):
    """The roots and every process below one of them (parent links of one snapshot)."""
    children = {}
    for pid, (ppid, _cpu, _rss) in procs.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, ()))
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pattern", required=True, help="regex a candidate's command line must match")
    parser.add_argument("--cpu-percent", type=float, help="per process, of one CPU; unset: not checked")
    parser.add_argument("--memory-mb", type=float, help="resident, per process; unset: not checked")
    parser.add_argument("--top-memory", action="store_true", help="report only the largest over --memory-mb")
    parser.add_argument("--root", help="regex of the command lines that start the service's process tree")
    parser.add_argument("--protect", action="append", default=[], help="regex of command lines never killed")
    parser.add_argument("--sample-seconds", type=float, default=1.0)
    args = parser.parse_args()
    pattern = re.compile(args.pattern)
    protected = [re.compile(p) for p in args.protect]

    first = snapshot()
    time.sleep(args.sample_seconds)
    second = snapshot()
    keep = ancestors(os.getpid(), second) | {1}
    scope = None
    if args.root:
        root = re.compile(args.root)
        roots = []
        for pid in second:
            try:
                if root.search(read_cmdline(pid)):
                    roots.append(pid)
            except OSError:
                continue
        scope = descendants_of(roots, second)

    found = []
    for pid, (ppid, cpu, rss) in sorted(second.items()):
        if pid in keep or pid not in first or (scope is not None and pid not in scope):
            continue
        try:
            cmdline = read_cmdline(pid)
        except OSError:
            continue
        if not cmdline or not pattern.search(cmdline) or any(p.search(cmdline) for p in protected):
            continue
        cpu_percent = 100.0 * (cpu - first[pid][1]) / args.sample_seconds
        rss_mb = rss / (1024 * 1024)
        reasons = []
        if args.cpu_percent is not None and cpu_percent > args.cpu_percent:
            reasons.append(f"cpu {cpu_percent:.0f}% > {args.cpu_percent:g}%")
        if args.memory_mb is not None and rss_mb > args.memory_mb:
            reasons.append(f"memory {rss_mb:.0f} MiB > {args.memory_mb:g} MiB")
        if reasons:
            found.append({"pid": pid, "ppid": ppid, "cpu_percent": round(cpu_percent, 1),
                          "rss_mb": round(rss_mb, 1), "cmdline": cmdline[:200], "reasons": reasons})
    if args.top_memory:
        over = [p for p in found if any(r.startswith("memory") for r in p["reasons"])]
        found = sorted(over, key=lambda p: p["rss_mb"], reverse=True)[:1]
    json.dump({"runaways": found, "examined": len(second)}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
