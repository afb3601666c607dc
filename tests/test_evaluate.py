"""``entrobust.evaluate``: the README's example runs as written; worst case from flags."""

from __future__ import annotations

import io
import math
import re
from contextlib import redirect_stdout
from pathlib import Path

import pytest
import torch
from torch import nn

import entrobust
from entrobust.errors import InvalidValueError
from entrobust.evaluation import robust_flags

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_python_block(marker: str) -> str:
    """The README's ```python block that contains ``marker``."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    found = [b for b in blocks if marker in b]
    assert len(found) == 1, f"expected one README python block with {marker!r}"
    return found[0]


def test_readme_evaluate_example_runs_as_written():
    code = readme_python_block("entrobust.evaluate(")
    namespace: dict = {}
    out = io.StringIO()
    with redirect_stdout(out):
        exec(compile(code, str(README), "exec"), namespace)
    df, mixed = namespace["df"], namespace["mixed"]
    assert list(df["attack"]) == [
        "clean",
        "pgd40-16",
        "cw40-16",
        "adaptive40-16",
        "autoattack-16",
        "worst-case",
    ]
    assert list(df["mode"])[3:] == ["cascade", "cascade", "worst-case"]
    worst = df.set_index("attack")["accuracy"]
    assert worst["worst-case"] <= min(worst["pgd40-16"], worst["cw40-16"]) <= worst["clean"]
    assert worst["worst-case"] == worst["autoattack-16"]  # the cascade's last row is the worst
    assert worst["clean"] > 0.5
    assert list(mixed["attack"]) == ["clean", "pgd20-16", "ta-fgsm-16", "worst-case"]
    assert "worst-case" in out.getvalue()


def test_worst_case_is_the_and_of_flags_not_the_minimum():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    x, y = torch.rand(64, 1, 4, 4), torch.randint(0, 3, (64,))
    df = entrobust.evaluate(model, (x, y), attacks=["fgsm8", "pgd5-8", "pgd5-4"], progress=False)
    rows = df.set_index(["attack", "k"])
    exact = robust_flags(model, entrobust.attacks.get_attack("fgsm8"), x, y, seed=0) & robust_flags(
        model, entrobust.attacks.get_attack("pgd5-8"), x, y, seed=0
    )
    assert rows.loc[("worst-case", 8.0), "accuracy"] == pytest.approx(exact.float().mean().item())
    assert rows.loc[("worst-case", 4.0), "accuracy"] == rows.loc[("pgd5-4", 4.0), "accuracy"]
    assert set(df.columns) >= {"attack", "eps", "norm", "accuracy", "n", "seconds"}
    assert math.isclose(df.set_index("attack").loc["pgd5-4", "eps"], 4 / 255, abs_tol=1e-9)


def test_data_as_dataset_or_loader_gives_the_same_numbers():
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(1)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    x, y = torch.rand(40, 1, 4, 4), torch.randint(0, 3, (40,))
    kw = dict(attacks=["pgd5-8"], progress=False, batch_size=16)
    a = entrobust.evaluate(model, (x, y), **kw)
    b = entrobust.evaluate(model, TensorDataset(x, y), **kw)
    c = entrobust.evaluate(model, DataLoader(TensorDataset(x, y), batch_size=7), **kw)
    assert a["accuracy"].tolist() == b["accuracy"].tolist() == c["accuracy"].tolist()


def test_cascade_runs_only_on_survivors():
    torch.manual_seed(2)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    x, y = torch.rand(48, 1, 4, 4), torch.randint(0, 3, (48,))
    df = entrobust.evaluate(
        model, (x, y), attacks=["fgsm8"], cascade=["pgd10-8"], progress=False
    ).set_index("attack")
    assert df.loc["pgd10-8", "mode"] == "cascade"
    assert df.loc["pgd10-8", "n"] == round(df.loc["fgsm8", "accuracy"] * 48)
    assert df.loc["worst-case", "accuracy"] == df.loc["pgd10-8", "accuracy"]
    assert df.loc["pgd10-8", "accuracy"] <= df.loc["fgsm8", "accuracy"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"eps": 8}, "give it as a fraction of the pixel range"),
        ({}, "give attacks"),
        ({"attacks": "pgd10-8"}, "must be a list"),
        ({"attacks": ["pgd10-800"]}, "ε = 800/255 > 1"),
        ({"attacks": ["nope"]}, "unknown attack 'nope'"),
        ({"eps": 0.1}, "not k/255"),
    ],
)
def test_one_line_errors(kwargs, message):
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    x, y = torch.rand(4, 1, 4, 4), torch.randint(0, 3, (4,))
    with pytest.raises(entrobust.EntrobustError, match=re.escape(message)):
        entrobust.evaluate(model, (x, y), progress=False, **kwargs)


def test_images_outside_unit_range_are_refused():
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    x, y = torch.randn(4, 1, 4, 4) * 3, torch.randint(0, 3, (4,))
    with pytest.raises(InvalidValueError, match=r"images must be in \[0, 1\]"):
        entrobust.evaluate(model, (x, y), attacks=["fgsm8"], progress=False)
