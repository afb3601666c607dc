"""A rough GPU-hours estimate for a plan, counted in forward+backward image passes.

Cost model (stated so it can be checked and recalibrated):

* training one epoch costs ``n_train × passes``, passes being the trainer's
  :attr:`~entrobust.defenses.Trainer.passes_per_example`: 1 (standard), ``k + 2`` (PAT and
  MART: k attack steps + clean and adversarial losses), ``k + 3`` (TRADES: one more clean
  forward), ``k + 1`` (fast AT: no clean loss), K (ADP with K members);
* a white-box attack costs ``steps × restarts × n_test`` (the upper bound: early exit only
  saves work), a single-step attack (FGSM) 1 × n_test whatever the restarts, clean 0 (as does,
  for now, any attack without a ``steps`` attribute); a black-box row costs its crafting once
  per proxy;
* passes are converted to seconds with :data:`THROUGHPUT`, fp32 images/s for one
  forward+backward on one A100/H100-class GPU — our assumption, to be recalibrated with
  ``benchmarks/gpu_check.sh`` on your hardware.
"""

from __future__ import annotations

from typing import Any

from entrobust.attacks import get_attack
from entrobust.defenses import trainer_of
from entrobust.training import TrainConfig

#: Forward+backward images per second on one A100/H100-class GPU, fp32 (assumed).
THROUGHPUT = {
    "resnet18": 8_000,
    "wrn34-10": 900,
    "cnn4": 150_000,
    "tiny": 300_000,
    "tiny-bn": 300_000,
}

#: How many times slower than :data:`THROUGHPUT` a CPU machine (a few cores, fp32) is: our
#: assumption for the CPU-hours shown when no GPU is present (recalibrate on your machine).
CPU_SLOWDOWN = 50.0
#: What :data:`THROUGHPUT` assumes.
ASSUMED_DEVICE = "one A100/H100-class GPU, fp32"

#: Full training/test set sizes (used when a profile does not subset).
DATASET_SIZES = {
    "cifar10": (50_000, 10_000),
    "cifar100": (50_000, 10_000),
    "svhn": (73_257, 26_032),
    "mnist": (60_000, 10_000),
    "digits": (1_437, 360),
}


def training_passes(cfg: TrainConfig) -> float:
    """Forward+backward image passes to train ``cfg``."""
    n_train = cfg.train_size or DATASET_SIZES.get(cfg.dataset, (50_000, 10_000))[0]
    per = trainer_of(cfg.defense).passes_per_example(at_steps=cfg.at_steps, members=cfg.adp_members)
    return cfg.epochs * n_train * per


def attack_passes(attack_name: str, n_test: int, restarts: int) -> float:
    """Upper bound on the passes of one attack over ``n_test`` images.

    Example:
        >>> attack_passes("pgd10-8", 100, restarts=5), attack_passes("fgsm8", 100, restarts=5)
        (5000, 100)
    """
    steps = getattr(get_attack(attack_name), "steps", 0)
    return steps * (restarts if steps > 1 else 1) * n_test


def estimate(configs: list[TrainConfig], cells: list[dict[str, Any]], restarts: int = 5) -> dict:
    """GPU-hours for training and attacks (black-box crafting counted once per proxy).

    Example:
        >>> from entrobust.training import make_config
        >>> cfg = make_config("cifar10", "pat", profile="paper")
        >>> round(training_passes(cfg) / 1e6, 1)  # 120 epochs × 50k × (7 + 2)
        54.0
    """
    seconds_train = sum(training_passes(c) / THROUGHPUT.get(c.arch, 8_000) for c in configs)
    seconds_attack, crafted = 0.0, set()
    by_hash = {c.hash: c for c in configs}
    for cell in cells:
        cfg = by_hash.get(cell["config_hash"])
        arch = cfg.arch if cfg else cell["arch"]
        n_test = (
            cfg.test_size
            if cfg and cfg.test_size
            else DATASET_SIZES.get(cell["dataset"], (0, 10_000))[1]
        )
        key = (cell.get("proxy") or cell["config_hash"], cell["attack"])
        if cell["mode"] == "black-box":
            if key in crafted:
                continue
            crafted.add(key)
        seconds_attack += attack_passes(cell["attack"], n_test, restarts) / THROUGHPUT.get(
            arch, 8_000
        )
    return {
        "train_gpu_hours": seconds_train / 3600,
        "attack_gpu_hours": seconds_attack / 3600,
        "total_gpu_hours": (seconds_train + seconds_attack) / 3600,
        "total_cpu_hours": CPU_SLOWDOWN * (seconds_train + seconds_attack) / 3600,
    }


def estimate_lines(est: dict, gpu_present: bool) -> list[str]:
    """The estimate in words: the device it assumes, and CPU-hours when no GPU is present.

    Example:
        >>> est = {"train_gpu_hours": 1.0, "attack_gpu_hours": 0.5, "total_gpu_hours": 1.5,
        ...        "total_cpu_hours": 75.0}
        >>> print("\\n".join(estimate_lines(est, gpu_present=False)))
        estimated GPU-hours on one A100/H100-class GPU, fp32: training 1 + attacks 0.5 = 1.5
        no GPU here: on this machine's CPU, roughly 75.0 CPU-hours (assumed 50× slower than that GPU)
    """
    h = lambda v: f"{v:.1f}" if v >= 10 else f"{v:.2g}"  # noqa: E731
    lines = [
        f"estimated GPU-hours on {ASSUMED_DEVICE}: training {h(est['train_gpu_hours'])} + "
        f"attacks {h(est['attack_gpu_hours'])} = {h(est['total_gpu_hours'])}"
    ]
    if not gpu_present:
        lines.append(
            f"no GPU here: on this machine's CPU, roughly {h(est['total_cpu_hours'])} "
            f"CPU-hours (assumed {CPU_SLOWDOWN:g}× slower than that GPU)"
        )
    return lines
