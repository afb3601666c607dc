"""The analysis figures (Figs. 1–6, Table 10 as bars), headless (Agg), one function each.

Every function returns a matplotlib ``Figure`` with labelled axes, a title and a legend placed
off the data (beside or below the axes; no label runs into the next panel); save
it with :func:`entrobust.analysis.output.save_figure`. Multi-model figures take ``{label: frame}``
and draw one colour per model, in the order given.
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import CenteredNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator


def _colour(i: int):
    return plt.get_cmap("tab10")(i % 10)


def plot_eps_curve(frames: dict[str, pd.DataFrame], dataset: str = "") -> Figure:
    """Fig. 1: robust accuracy (%) vs ε·255 for each model.

    Example:
        >>> import pandas as pd
        >>> fig = plot_eps_curve({"pat": pd.DataFrame({"k": [10, 20], "accuracy": [0.5, 0.2]})})
        >>> fig.axes[0].get_xlabel()
        'ε × 255 (PGD: k steps of 2/255, ε = k/255)'
    """
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, (label, f) in enumerate(frames.items()):
        ax.plot(f["k"], 100 * f["accuracy"], "o-", color=_colour(i), label=label)
    ax.set_xlabel("ε × 255 (PGD: k steps of 2/255, ε = k/255)")
    ax.set_ylabel("robust accuracy (%)")
    ax.set_ylim(bottom=0)
    ax.set_title(f"Accuracy–ε curve{f' ({dataset})' if dataset else ''}")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0, title="defense")
    fig.tight_layout()  # the legend sits right of the axes, off the data
    return fig


def plot_steps_curve(frames: dict[str, pd.DataFrame], dataset: str = "") -> Figure:
    """Fig. 2: robust accuracy vs #steps, one panel per ε; solid PGD, dashed adaptive.

    Example:
        >>> import pandas as pd
        >>> f = pd.DataFrame({"attack": ["pgd", "adaptive"], "k": [8, 8], "steps": [8, 8],
        ...                   "accuracy": [0.5, 0.4]})
        >>> len(plot_steps_curve({"pat": f}).axes)
        1
    """
    ks = sorted({int(k) for f in frames.values() for k in f["k"]})
    fig, axes = plt.subplots(1, len(ks), figsize=(5.5 * len(ks), 4), squeeze=False)
    styles = {"pgd": ("o-", "PGD"), "adaptive": ("s--", "adaptive (smoothed-label CE)")}
    for ax, k in zip(axes[0], ks, strict=True):
        for i, (label, f) in enumerate(frames.items()):
            for kind, (style, name) in styles.items():
                g = f[(f["k"] == k) & (f["attack"] == kind)].sort_values("steps")
                if len(g):
                    ax.plot(
                        g["steps"],
                        100 * g["accuracy"],
                        style,
                        color=_colour(i),
                        label=f"{label}, {name}",
                    )
        ax.set_xscale("log", base=2)
        ax.set_xlabel("# steps k (step size max(1/510, 2ε/k))")
        ax.set_ylabel("robust accuracy (%)")
        ax.set_title(f"ε = {k}/255")
        ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.suptitle(f"Accuracy–#steps curve{f' ({dataset})' if dataset else ''}")
    fig.tight_layout(rect=(0, 0.1 + 0.03 * (len(labels) // 3), 1, 1), w_pad=2.0)
    if handles:  # one legend for every panel, below them, off the data
        fig.legend(handles, labels, loc="lower center", ncol=min(3, len(labels)), fontsize=8)
    return fig


def plot_lambda_sweep(frame: pd.DataFrame, title: str = "λ sweep") -> Figure:
    """Fig. 3: clean and robust accuracy (%) vs λ.

    Example:
        >>> import pandas as pd
        >>> f = pd.DataFrame({"lam": [0, 2], "clean_accuracy": [0.9, 0.95],
        ...                   "robust_accuracy": [0.4, 0.5], "attack": ["pgd40-8"] * 2})
        >>> plot_lambda_sweep(f).axes[0].get_ylabel()
        'accuracy (%)'
    """
    f = frame.sort_values("lam")
    attack = str(f["attack"].iloc[0]) if "attack" in f and len(f) else "attack"
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(f["lam"], 100 * f["clean_accuracy"], "o-", color=_colour(0), label="clean")
    ax.plot(f["lam"], 100 * f["robust_accuracy"], "s-", color=_colour(3), label=attack)
    ax.set_xlabel("λ (EntM strength)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(
        loc="upper left",
        bbox_to_anchor=(1.02, 1),
        borderaxespad=0,
    )
    fig.tight_layout()  # the legend sits right of the axes, off the data
    return fig


def plot_margin_distortion(
    frames: dict[str, pd.DataFrame], correlations: dict[str, float] | None = None
) -> Figure:
    """Fig. 4: normalized margin ``M/‖J‖`` vs minimal L2 distortion, one colour per model.

    Only correctly classified points with a finite distortion are drawn (those behind the
    correlation).

    Example:
        >>> import pandas as pd
        >>> f = pd.DataFrame({"correct": [True, True], "normalized_margin": [1.0, 2.0],
        ...                   "l2_distortion": [0.5, 0.9]})
        >>> plot_margin_distortion({"pat": f}, {"pat": 1.0}).axes[0].get_ylabel()
        'minimal L2 distortion ‖X_adv − X‖₂'
    """
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for i, (label, f) in enumerate(frames.items()):
        ok = f["correct"].astype(bool) & np.isfinite(f["l2_distortion"])
        r = (correlations or {}).get(label, math.nan)
        name = f"{label} (r = {r:.3f})" if math.isfinite(r) else label
        ax.scatter(
            f.loc[ok, "normalized_margin"],
            f.loc[ok, "l2_distortion"],
            s=10,
            alpha=0.6,
            color=_colour(i),
            label=name,
        )
    ax.set_xlabel("normalized margin M / ‖∇ₓf(X)‖₂")
    ax.set_ylabel("minimal L2 distortion ‖X_adv − X‖₂")
    ax.set_title("Normalized margin vs distortion (Pearson r in legend)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0, markerscale=2)
    fig.tight_layout()  # the legend sits right of the axes, off the data
    return fig


def plot_surface(frame: pd.DataFrame, title: str) -> Figure:
    """Figs. 5–6 for one image and model: 3D loss surface and margin contour map.

    Example:
        >>> import numpy as np, pandas as pd
        >>> e = np.linspace(-0.04, 0.04, 3)
        >>> g1, g2 = (a.ravel() for a in np.meshgrid(e, e, indexing="ij"))
        >>> f = pd.DataFrame({"eps1": g1, "eps2": g2, "loss": g1 ** 2, "margin": 1 - 50 * g1})
        >>> len(plot_surface(f, "demo").axes)
        3
    """
    e1 = np.sort(frame["eps1"].unique())
    e2 = np.sort(frame["eps2"].unique())
    f = frame.sort_values(["eps1", "eps2"])
    loss = f["loss"].to_numpy().reshape(len(e1), len(e2))
    margin = f["margin"].to_numpy().reshape(len(e1), len(e2))
    E1, E2 = np.meshgrid(e1, e2, indexing="ij")
    fig = plt.figure(figsize=(13, 5.2))
    ax = fig.add_subplot(1, 2, 1, projection="3d", computed_zorder=False)
    ax.plot_surface(E1, E2, loss, cmap="viridis", linewidth=0, antialiased=True, alpha=0.8)
    centre = loss[np.abs(e1).argmin(), np.abs(e2).argmin()]
    top = float(loss.max())
    # the clean point drawn over the surface (never hidden behind it), with a stem to the top
    ax.plot([0, 0], [0, 0], [centre, top], color="red", linewidth=1, zorder=9)
    ax.scatter(
        [0],
        [0],
        [centre],
        color="red",
        edgecolor="white",
        s=60,
        zorder=10,
        depthshade=False,
        label="clean X (ε₁ = ε₂ = 0)",
    )
    for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
        axis.set_major_locator(MaxNLocator(5))
    ax.tick_params(labelsize=7)
    ax.set_xlabel("ε₁ (gradient sign d₁)", labelpad=6)
    ax.set_ylabel("ε₂ (random sign d₂)", labelpad=6)
    ax.set_zlabel("CE loss", labelpad=10)
    ax.set_box_aspect(None, zoom=0.85)
    ax.set_title("loss surface (Fig. 5)")
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, 1.0), fontsize=8)
    ax2 = fig.add_subplot(1, 2, 2)
    # red = misclassified (M < 0), blue = correct; white at M = 0 when the plane has both
    both = margin.min() < 0 < margin.max()
    cmap = "RdBu" if both else ("Reds_r" if margin.max() <= 0 else "Blues")
    cs = ax2.contourf(
        E1,
        E2,
        margin,
        levels=20 if np.ptp(margin) > 0 else 1,
        cmap=cmap,
        norm=CenteredNorm(vcenter=0.0) if both else None,
    )
    fig.colorbar(cs, ax=ax2, label=r"margin $M = f_y - \max_{i \neq y} f_i$ (< 0: wrong)")
    handles = [Line2D([], [], color="red", marker="o", linestyle="", label="clean X")]
    if both:
        ax2.contour(E1, E2, margin, levels=[0.0], colors="black", linewidths=1.5)
        handles.append(Line2D([], [], color="black", label="decision boundary M = 0"))
    ax2.plot([0], [0], "o", color="red")
    ax2.xaxis.set_major_locator(MaxNLocator(5))
    ax2.set_xlabel("ε₁ (gradient sign d₁)")
    ax2.set_ylabel("ε₂ (random sign d₂)")
    ax2.set_title("decision margin (Fig. 6)")
    ax2.legend(handles=handles, loc="upper left", bbox_to_anchor=(0, -0.12), fontsize=8, ncol=2)
    fig.suptitle(title)
    fig.subplots_adjust(left=0.0, right=0.95, bottom=0.18, wspace=0.28)  # z label clear of ax2
    return fig


def plot_random_search(table: pd.DataFrame) -> Figure:
    """Table 10 as bars: PGD survivors and how many of them random search breaks, per model.

    Example:
        >>> import pandas as pd
        >>> t = pd.DataFrame({"model": ["pat"], "pgd8_fails": [40], "random_succeeds": [0],
        ...                   "samples": [100]})
        >>> plot_random_search(t).axes[0].get_ylabel()
        'number of test points'
    """
    fails = next(c for c in table.columns if c.startswith("pgd") and c.endswith("_fails"))
    x = np.arange(len(table))
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(table) + 2), 4))
    b1 = ax.bar(x - 0.2, table[fails], 0.4, color=_colour(0), label="PGD fails (survivors)")
    b2 = ax.bar(
        x + 0.2,
        table["random_succeeds"],
        0.4,
        color=_colour(3),
        label="of which random search succeeds",
    )
    ax.bar_label(b1)
    ax.bar_label(b2)
    ax.set_xticks(x, table["model"])
    ax.set_xlabel("model")
    ax.set_ylabel("number of test points")
    samples = int(table["samples"].iloc[0]) if "samples" in table and len(table) else 0
    eps = fails[3:-6]
    pgd = str(table["pgd_attack"].iloc[0]) if "pgd_attack" in table and len(table) else "PGD"
    ax.set_title(f"Random search ({samples} tries, ε = {eps}/255) on {pgd} survivors")
    ax.set_ylim(0, 1.15 * max(1, float(table[fails].max())))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2)  # below, off the bars
    fig.tight_layout()
    return fig


__all__ = [
    "plot_eps_curve",
    "plot_lambda_sweep",
    "plot_margin_distortion",
    "plot_random_search",
    "plot_steps_curve",
    "plot_surface",
]
