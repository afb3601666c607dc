"""Loss functions: EntM, label smoothing, the TRADES KL term and the ADP ensemble loss.

Each is an ``nn.Module`` with a functional twin, called ``(logits, target)`` like
``nn.CrossEntropyLoss`` and taking ``reduction`` in {"none", "mean", "sum"}.
"""

from entrobust.losses.adp import ADPLoss, adp_loss, ensemble_entropy, ensemble_log_det
from entrobust.losses.entm import EntMLoss, entm_loss, entropy
from entrobust.losses.label_smoothing import LabelSmoothingLoss, label_smoothing_loss
from entrobust.losses.trades_kl import TradesKLLoss, trades_kl_loss

__all__ = [
    "ADPLoss",
    "EntMLoss",
    "LabelSmoothingLoss",
    "TradesKLLoss",
    "adp_loss",
    "ensemble_entropy",
    "ensemble_log_det",
    "entm_loss",
    "entropy",
    "label_smoothing_loss",
    "trades_kl_loss",
]
