"""``entrobust list``: the registered datasets, models, defenses and profiles."""

from __future__ import annotations

import argparse

from entrobust.attacks import ATTACK_FORMS
from entrobust.data import list_datasets
from entrobust.defenses import list_defenses
from entrobust.models import list_models
from entrobust.training import PROFILES


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="list datasets, models, defenses, profiles and attacks")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for title, names in (
        ("datasets", list_datasets()),
        ("models", list_models()),
        ("defenses", list_defenses()),
        ("profiles", PROFILES.names()),
        ("attacks (ε = k/255)", list(ATTACK_FORMS)),
    ):
        print(f"{title}: {', '.join(names)}")
    return 0
