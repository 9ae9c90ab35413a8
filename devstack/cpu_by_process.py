"""Where a command's CPU goes, by kind of process: ``python -m devstack.cpu_by_process -- make test``.

Runs the command and, every half second while it runs, reads every process's CPU time (user + system)
and command line from ``/proc``. At the end it prints the CPU of each kind of process (each ``harmwatch``
step, the MLflow servers, Airflow's parts, the Spark JVMs, Chromium, the pytest workers ...), how many
there were, and the cores' busy time from ``/proc/stat`` over the same span. A process is counted at its
last sample, so one that lives less than half a second is missed and the last half second of each is
too: the kinds add up to a little less than the busy time. Linux only; the machine's other work is in the
busy time but not in the kinds of this command's processes, unless it runs the same programs.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")
# (pattern of the command line, kind): the first that matches names the process.
KINDS = [
    (r"(?:bin/harmwatch|-m harmwatch\.cli) (\S+)", "harmwatch {}"),
    (r"-m harmwatch\.steps\.evaluate ", "evaluate's fresh-process load"),
    (r"exec\(eval\(sys\.stdin\.readline\(\)\)\)", "pytest workers (tests in process)"),
    (r"bin/pytest", "pytest"),
    (r"mlflow server|mlflow\.server|devstack\.mlflow serve", "MLflow servers"),
    (r"airflow (scheduler|api-server|dag-processor|triggerer|dags test|db migrate)", "airflow {}"),
    (r"pyspark\.daemon", "Spark's Python workers"),
    (r"bin/java ", "Java (Spark)"),
    (r"moto_server|moto\.server|ThreadedMotoServer", "moto (S3)"),
    (r"postgres", "PostgreSQL"),
    (r"label.studio|labelstudio", "Label Studio"),
    (r"chrom", "Chromium"),
    (r"podman|conmon|runc|catatonit", "Podman"),
    (r"\bnode\b|gitlab-ci-local", "Node.js (gitlab-ci-local)"),
    (r"\buv\b|pip ", "package installs"),
]


def kind_of(cmdline: str) -> str:
    """The kind of a process, from its command line (``other: <program>`` when no pattern matches)."""
    for pattern, name in KINDS:
        found = re.search(pattern, cmdline)
        if found:
            return name.format(*found.groups())
    program = cmdline.split(" ", 1)[0].rsplit("/", 1)[-1]
    return f"other: {program or '(no command line)'}"


def busy_seconds() -> tuple[float, float]:
    """The cores' busy and total time since boot, in seconds (``/proc/stat``; idle and iowait not busy)."""
    ticks = [int(v) for v in (PROC / "stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / TICK, sum(ticks) / TICK


def sample(seen: dict[tuple[str, str], list]) -> None:
    """Every process's CPU seconds now, into ``seen`` (keyed by pid and start time, so a reused pid is a
    new process); the command line is read once, when a process is first seen."""
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            cpu = (int(fields[11]) + int(fields[12])) / TICK
            key = (entry.name, fields[19])
            if key not in seen:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                seen[key] = [cmdline.strip(), cpu]
            seen[key][1] = cpu
        except (OSError, ValueError, IndexError):  # gone while read
            continue


def report(seen: dict[tuple[str, str], list], busy: float, total: float, wall: float, top: int) -> str:
    """The table: CPU seconds and processes per kind, most first, under the busy time of the cores."""
    cpu, count = Counter(), Counter()
    for cmdline, seconds in seen.values():
        kind = kind_of(cmdline)
        cpu[kind] += seconds
        count[kind] += 1
    lines = [
        f"wall {wall:.0f} s; cores busy {busy:.0f} of {total:.0f} core-s ({busy / total:.1%}); "
        f"counted in processes {sum(cpu.values()):.0f} core-s",
        "| kind | CPU-s | processes |",
        "|---|---:|---:|",
    ]
    lines += [f"| {kind} | {seconds:.1f} | {count[kind]} |" for kind, seconds in cpu.most_common(top)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--top", type=int, default=30, help="kinds to list (default 30)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given (python -m devstack.cpu_by_process -- make test)")
    seen: dict[tuple[str, str], list] = {}
    busy0, total0 = busy_seconds()
    started = time.monotonic()
    proc = subprocess.Popen(command)
    while proc.poll() is None:
        sample(seen)
        time.sleep(0.5)
    busy1, total1 = busy_seconds()
    wall = time.monotonic() - started
    print(report(seen, busy1 - busy0, total1 - total0, wall, args.top), file=sys.stderr)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
