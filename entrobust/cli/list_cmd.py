"""``entrobust list``: the registered datasets, models, defenses and profiles."""

from __future__ import annotations

import argparse

from entrobust.data import list_datasets
from entrobust.defenses import list_defenses
from entrobust.models import list_models
from entrobust.training import PROFILES


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="list datasets, models, defenses and profiles")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for title, names in (
        ("datasets", list_datasets()),
        ("models", list_models()),
        ("defenses", list_defenses()),
        ("profiles", PROFILES.names()),
    ):
        print(f"{title}: {', '.join(names)}")
    return 0
