"""Training: configs and profiles, the resumable cached runner, checkpoint I/O."""

from entrobust.training.config import TrainConfig, make_config
from entrobust.training.profiles import (
    PAPER_TABLE5,
    PROFILES,
    Profile,
    Schedule,
    resolve_schedule,
)
from entrobust.training.rundir import TrainedRun, is_complete, load_run, run_dir_for
from entrobust.training.runner import train

__all__ = [
    "PAPER_TABLE5",
    "PROFILES",
    "Profile",
    "Schedule",
    "TrainConfig",
    "TrainedRun",
    "is_complete",
    "load_run",
    "make_config",
    "resolve_schedule",
    "run_dir_for",
    "train",
]
