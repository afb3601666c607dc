"""Multi-process training through torchrun on CPU (gloo): 2 processes vs 1, and resume.

This is how several GPUs are used (``--nproc_per_node=N`` with CUDA picks NCCL and one GPU per
process). Checks: the 2-process run finishes, its clean accuracy matches the 1-process run
within ``--tolerance`` points, and a 2-process run killed after its first checkpoint resumes::

    python benchmarks/ddp_check.py
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import save

TORCHRUN = [
    sys.executable,
    "-m",
    "torch.distributed.run",
    "--nproc_per_node",
    "2",
    "--master_port",
    "29517",
]


def train_cmd(runs: Path, extra: list[str]) -> list[str]:
    return [
        "-m",
        "entrobust",
        "train",
        "--dataset",
        "digits",
        "--defense",
        "pat",
        "--profile",
        "quick",
        "--device",
        "cpu",
        "--no-progress",
        "--runs-dir",
        str(runs),
        *extra,
    ]


def kill_all_mentioning(text: str) -> None:
    """SIGKILL every process whose command line contains ``text`` (agent and workers:
    torchrun's workers do not share the agent's process group)."""
    for pid_dir in Path("/proc").iterdir():
        if not pid_dir.name.isdigit() or int(pid_dir.name) == os.getpid():
            continue
        try:
            cmdline = (pid_dir / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_dir.name), signal.SIGKILL)


def metrics(runs: Path) -> dict:
    (run_dir,) = runs.iterdir()
    return json.loads((run_dir / "metrics.json").read_text())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", default="10")
    p.add_argument("--tolerance", type=float, default=3.0)
    args = p.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    work = Path(tempfile.mkdtemp())
    extra = ["--epochs", args.epochs, "--milestones", ""]
    t0 = time.perf_counter()
    subprocess.run([sys.executable, *train_cmd(work / "one", extra)], env=env, check=True)
    one_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    subprocess.run([*TORCHRUN, *train_cmd(work / "two", extra)], env=env, check=True)
    two_s = time.perf_counter() - t0
    acc1, acc2 = (100 * metrics(work / d)["clean_accuracy"] for d in ("one", "two"))
    print(
        f"1 process: {acc1:.2f}% in {one_s:.1f} s; 2 processes (gloo): {acc2:.2f}% in {two_s:.1f} s"
    )

    # Kill a 2-process run after its first checkpoint, rerun: it must resume and finish.
    runs = work / "killed"
    proc = subprocess.Popen([*TORCHRUN, *train_cmd(runs, extra)], env=env)
    while not list(runs.glob("*/checkpoint.pt")) and proc.poll() is None:
        time.sleep(0.05)
    kill_all_mentioning(str(runs))  # torchrun's workers too: a crash, not a shutdown
    proc.wait()
    time.sleep(1)
    (ckpt,) = runs.glob("*/checkpoint.pt")
    (run_dir,) = runs.iterdir()
    assert not (run_dir / "final.pt").exists(), "the kill came too late"
    subprocess.run([*TORCHRUN, *train_cmd(runs, extra)], env=env, check=True)
    hist = metrics(runs)["history"]
    resumed = [h["epoch"] for h in hist] == list(range(1, int(args.epochs) + 1))
    print(
        f"killed after checkpoint {ckpt.name}; resumed run has epochs "
        f"{[h['epoch'] for h in hist]}: {'ok' if resumed else 'BROKEN'}"
    )
    ok = abs(acc1 - acc2) <= args.tolerance and resumed
    save(
        "ddp_check",
        {
            "one_process": {"accuracy": acc1, "seconds": one_s},
            "two_processes_gloo": {"accuracy": acc2, "seconds": two_s},
            "tolerance_points": args.tolerance,
            "resume_after_kill": resumed,
            "ok": ok,
        },
    )
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
