"""entrobust: uncertainty-promoting regularizers (EntM, label smoothing) in adversarial training.

Example:
    >>> import torch
    >>> from entrobust import EntMLoss
    >>> criterion = EntMLoss(lam=2.0)
    >>> criterion(torch.zeros(2, 10), torch.tensor([3, 7])).item() < 0  # CE − 2·log 10 at uniform
    True
"""

from entrobust.defenses import Defense, DefenseParams, TrainingAdversary, list_defenses
from entrobust.errors import EntrobustError
from entrobust.losses import (
    ADPLoss,
    EntMLoss,
    LabelSmoothingLoss,
    TradesKLLoss,
    adp_loss,
    entm_loss,
    entropy,
    label_smoothing_loss,
    trades_kl_loss,
)
from entrobust.training.runner import TrainedRun, load_run
from entrobust.worst_case import evaluate

__version__ = "0.1.0"

__all__ = [
    "ADPLoss",
    "Defense",
    "DefenseParams",
    "EntMLoss",
    "EntrobustError",
    "LabelSmoothingLoss",
    "TradesKLLoss",
    "TrainedRun",
    "TrainingAdversary",
    "__version__",
    "adp_loss",
    "entm_loss",
    "entropy",
    "evaluate",
    "label_smoothing_loss",
    "list_defenses",
    "load_run",
    "trades_kl_loss",
]
