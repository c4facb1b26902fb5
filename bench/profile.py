"""Profile one benchmark step: ``python -m bench.profile STEP --patients N [--focus TEXT]``.

Runs ``bench.steps STEP`` under py-spy (sampling, all threads, so it also sees the Streamlit
script thread of AppTest) and prints the top entries: for each function, the share of the
samples in which it is on the stack (inclusive) and at the top (self). ``--focus`` keeps only
stacks that pass through a frame containing TEXT (e.g. ``patient.py`` for the patient view),
and reports the lines of that file the time is spent under.

Needs py-spy and pyinstrument, which are not project dependencies: ``pip install py-spy
pyinstrument`` (see bench/requirements.txt).
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _frames(stack: str) -> list[str]:
    return [f.strip() for f in stack.split(";") if f.strip()]


def _short(frame: str) -> str:
    # "func (path/to/file.py:123)" -> "func (file.py:123)"
    if "(" in frame and frame.endswith(")"):
        name, where = frame[:-1].split(" (", 1)
        parts = where.split("/")
        return f"{name} ({'/'.join(parts[-2:])})"
    return frame


def summarise(raw: Path, focus: str | None, top: int) -> str:
    incl: collections.Counter[str] = collections.Counter()
    self_: collections.Counter[str] = collections.Counter()
    lines: collections.Counter[str] = collections.Counter()
    total = 0
    for row in raw.read_text().splitlines():
        stack, _, count = row.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = _frames(stack)
        if focus:
            idx = [i for i, f in enumerate(frames) if focus in f]
            if not idx:
                continue
            lines[_short(frames[idx[-1]])] += n
            frames = frames[idx[0] :]
        total += n
        seen = set()
        for f in frames:
            s = _short(f)
            if s not in seen:
                incl[s] += n
                seen.add(s)
        if frames:
            self_[_short(frames[-1])] += n
    if not total:
        return "no samples\n"
    out = [f"{total} samples" + (f" under frames matching {focus!r}" if focus else "")]
    if focus:
        out += ["", f"time by line of {focus} (inclusive):"]
        out += [f"{100 * c / total:5.1f}%  {f}" for f, c in lines.most_common(top)]
    out += ["", "inclusive (on the stack):"]
    out += [f"{100 * c / total:5.1f}%  {f}" for f, c in incl.most_common(top)]
    out += ["", "self (at the top of the stack):"]
    out += [f"{100 * c / total:5.1f}%  {f}" for f, c in self_.most_common(top)]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("step")
    ap.add_argument("--patients", type=int, required=True)
    ap.add_argument("--focus", default=None)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--rate", type=int, default=100, help="samples per second")
    args = ap.parse_args(argv)
    spy = Path(sys.executable).with_name("py-spy")
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "profile.raw"
        subprocess.run(
            [
                str(spy),
                "record",
                "-r",
                str(args.rate),
                "-f",
                "raw",
                "-o",
                str(raw),
                "--",
                sys.executable,
                "-m",
                "bench.steps",
                args.step,
                "--patients",
                str(args.patients),
            ],
            cwd=REPO,
            check=True,
            capture_output=True,
        )
        sys.stdout.write(summarise(raw, args.focus, args.top))


if __name__ == "__main__":
    main()
