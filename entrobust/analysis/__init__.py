"""The paper's analysis experiments (§5.2.2, §5.3, §6, Appendix C): curves, λ sweep, Jacobian
and margin analysis (Table 4, Fig. 4), loss surfaces (Figs. 5–6) and random search (Table 10).

Each experiment is a function returning a pandas frame; :mod:`.plots` draws the figures and
:mod:`.output` writes CSV/PNG atomically. ``entrobust analyze <what>`` is the command line.
"""

from entrobust.analysis.curves import (
    EPS_CURVE_KS,
    STEPS_CURVE_EPS,
    STEPS_CURVE_STEPS,
    eps_curve,
    steps_curve,
    steps_curve_step_size,
)
from entrobust.analysis.jacobian import (
    decision_margin,
    jacobian_spectral_norm,
    linearized_change,
    nonlinearity,
)
from entrobust.analysis.lambda_sweep import LAMBDA_GRID, lambda_sweep, sweep_configs
from entrobust.analysis.random_search_table import random_search_row, random_search_table
from entrobust.analysis.surface import loss_surface, surface_directions
from entrobust.analysis.table4 import (
    TABLE4_ROWS,
    distortion_correlation,
    jacobian_analysis,
    table4_summary,
)

__all__ = [
    "EPS_CURVE_KS",
    "LAMBDA_GRID",
    "STEPS_CURVE_EPS",
    "STEPS_CURVE_STEPS",
    "TABLE4_ROWS",
    "decision_margin",
    "distortion_correlation",
    "eps_curve",
    "jacobian_analysis",
    "jacobian_spectral_norm",
    "lambda_sweep",
    "linearized_change",
    "loss_surface",
    "nonlinearity",
    "random_search_row",
    "random_search_table",
    "steps_curve",
    "steps_curve_step_size",
    "surface_directions",
    "sweep_configs",
    "table4_summary",
]
