"""The paper's analysis experiments (§5.2.2, §5.3, §6, Appendix C): curves, λ sweep, Jacobian
and margin analysis (Table 4, Fig. 4), loss surfaces (Figs. 5–6) and random search (Table 10).

Each experiment is a function returning a pandas frame; :mod:`.plots` draws the figures and
:mod:`.output` writes CSV/PNG atomically. :mod:`.pipelines` runs each experiment end to end
on trained run directories (load, compute, write, summarise); ``entrobust analyze <what>`` is
its command line.
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
from entrobust.analysis.pipelines import (
    AnalysisResult,
    EvalSettings,
    eps_curve_analysis,
    jacobian_table_analysis,
    lambda_sweep_analysis,
    random_search_analysis,
    steps_curve_analysis,
    surface_analysis,
)
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
    "AnalysisResult",
    "EvalSettings",
    "decision_margin",
    "distortion_correlation",
    "eps_curve",
    "eps_curve_analysis",
    "jacobian_analysis",
    "jacobian_spectral_norm",
    "jacobian_table_analysis",
    "lambda_sweep",
    "lambda_sweep_analysis",
    "linearized_change",
    "loss_surface",
    "nonlinearity",
    "random_search_analysis",
    "random_search_row",
    "random_search_table",
    "steps_curve",
    "steps_curve_analysis",
    "steps_curve_step_size",
    "surface_analysis",
    "surface_directions",
    "sweep_configs",
    "table4_summary",
]
