"""AutoAttack through entrobust vs raw ``pyautoattack`` on the same model and images.

Our wrapper adds the protocol's guarantees (eval mode, frozen parameters, budget check); this
measures what they cost. Synthetic model and data by default (nothing downloaded)::

    python benchmarks/bench_autoattack.py --device cuda --arch resnet18 --n 500
"""

from __future__ import annotations

import argparse
import contextlib
import io

import torch
from pyautoattack import AutoAttack as RawAutoAttack
from timing import interleaved_medians, save

from entrobust.attacks.autoattack import AutoAttack
from entrobust.device import resolve_device
from entrobust.models import get_model


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", default="cnn4")
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--device", default="auto")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    device = resolve_device(args.device)
    c, s = (1, 28) if args.arch in ("cnn4", "tiny", "tiny-bn") else (3, 32)
    torch.manual_seed(0)
    model = (
        get_model(args.arch, num_classes=10, in_channels=c, mean=(0.5,) * c, std=(0.25,) * c)
        .to(device)
        .eval()
    )
    x = torch.rand(args.n, c, s, s, device=device)
    with torch.no_grad():
        y = model(x).argmax(1)  # every point starts correct: the full attack runs
    eps = 8 / 255

    def raw():
        with contextlib.redirect_stdout(io.StringIO()):
            aa = RawAutoAttack(
                model, eps=eps, norm="Linf", version="standard", device=device, seed=0
            )
            return aa.run_standard_evaluation(x, y, batch_size=args.n)

    ours = AutoAttack(eps, seed=0, batch_size=args.n)
    med = interleaved_medians(
        {"raw_pyautoattack": raw, "entrobust": lambda: ours(model, x, y)},
        device,
        args.repeats,
        warmup=1,
    )
    ratio = med["entrobust"] / med["raw_pyautoattack"]
    print(f"{args.arch} n={args.n} {device}: {med} ratio ours/raw = {ratio:.3f}")
    print(
        f"saved {save(f'autoattack_{args.arch}_{device.type}', {'median_seconds': med, 'ratio ours/raw': ratio, 'n': args.n, 'arch': args.arch})}"
    )


if __name__ == "__main__":
    main()
