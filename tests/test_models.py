"""Tests for entrobust.models: shapes, normalisation, parameter counts, pooling, ensembles."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from entrobust.errors import InvalidValueError, UnknownNameError
from entrobust.models import (
    MODELS,
    Ensemble,
    Normalize,
    NormalizedModel,
    get_ensemble,
    get_model,
    list_models,
)
from entrobust.models.resnet import BasicBlock as ResBlock
from entrobust.models.resnet import ResNet
from entrobust.models.wideresnet import BasicBlock as WideBlock
from entrobust.models.wideresnet import WideResNet

MEANS = {1: [0.1307], 3: [0.4914, 0.4822, 0.4465]}
STDS = {1: [0.3081], 3: [0.2471, 0.2435, 0.2616]}

# (in_channels, height, width) inputs each model must accept; every registered name appears.
INPUT_SHAPES: dict[str, list[tuple[int, int, int]]] = {
    "resnet18": [(3, 32, 32), (1, 40, 40)],
    "wrn34-10": [(3, 32, 32)],
    "cnn4": [(1, 28, 28)],
    "tiny": [(1, 8, 8), (3, 32, 32), (1, 28, 28)],
    "tiny-bn": [(1, 8, 8), (3, 32, 32), (1, 28, 28)],
}

Builder = Callable[[str, int, int], NormalizedModel]


@pytest.fixture(scope="module")
def build() -> Iterator[Builder]:
    """Build each (name, num_classes, in_channels) once per module, in eval mode."""
    cache: dict[tuple[str, int, int], NormalizedModel] = {}

    def _build(name: str, num_classes: int, in_channels: int) -> NormalizedModel:
        key = (name, num_classes, in_channels)
        if key not in cache:
            torch.manual_seed(0)
            cache[key] = get_model(
                name,
                num_classes=num_classes,
                in_channels=in_channels,
                mean=MEANS[in_channels],
                std=STDS[in_channels],
            ).eval()
        return cache[key]

    yield _build
    cache.clear()


def _first_shape(name: str) -> tuple[int, int, int]:
    return INPUT_SHAPES[name][0]


def test_list_models_exact() -> None:
    assert list_models() == ["cnn4", "resnet18", "tiny", "tiny-bn", "wrn34-10"]
    assert set(INPUT_SHAPES) == set(list_models())  # no model escapes the parametrised tests


@pytest.mark.parametrize("name", list_models())
def test_output_shape(build: Builder, name: str) -> None:
    for c, h, w in INPUT_SHAPES[name]:
        model = build(name, 10, c)
        with torch.no_grad():
            out = model(torch.rand(2, c, h, w))
        assert out.shape == (2, 10), (name, c, h, w)
        assert bool(torch.isfinite(out).all())


@pytest.mark.parametrize("name", ["cnn4", "tiny", "tiny-bn"])
def test_num_classes_respected(name: str) -> None:
    c, h, w = _first_shape(name)
    model = get_model(name, num_classes=7, in_channels=c, mean=MEANS[c], std=STDS[c]).eval()
    assert model(torch.rand(2, c, h, w)).shape == (2, 7)


@pytest.mark.parametrize("name", list_models())
def test_normalization_is_first_layer(build: Builder, name: str) -> None:
    c, h, w = _first_shape(name)
    model = build(name, 10, c)
    assert isinstance(model, NormalizedModel)
    assert isinstance(model.normalize, Normalize)
    mean = torch.tensor(MEANS[c]).view(1, c, 1, 1)
    std = torch.tensor(STDS[c]).view(1, c, 1, 1)
    assert model.normalize.mean.shape == (1, c, 1, 1)
    assert torch.equal(model.normalize.mean, mean)
    assert torch.equal(model.normalize.std, std)
    x = torch.rand(2, c, h, w)
    with torch.no_grad():
        assert torch.equal(model(x), model.net((x - mean) / std))


def test_normalize_values_not_clamped() -> None:
    norm = Normalize([0.5, 0.0], [0.25, 2.0])
    x = torch.tensor([0.0, 1.0, 0.5]).view(1, 1, 1, 3).expand(1, 2, 1, 3)
    out = norm(x)
    assert out[0, 0, 0].tolist() == [-2.0, 2.0, 0.0]
    assert out[0, 1, 0].tolist() == [0.0, 0.5, 0.25]


def test_normalize_buffers_in_state_dict_and_follow_dtype() -> None:
    model = get_model("tiny", num_classes=3, in_channels=3, mean=MEANS[3], std=STDS[3])
    state = model.state_dict()
    assert torch.equal(state["normalize.mean"], torch.tensor(MEANS[3]).view(1, 3, 1, 1))
    assert torch.equal(state["normalize.std"], torch.tensor(STDS[3]).view(1, 3, 1, 1))
    assert [n for n, _ in model.normalize.named_parameters()] == []  # buffers, not parameters
    model = model.to(torch.float64)
    assert model.normalize.mean.dtype == torch.float64
    assert model.normalize.std.dtype == torch.float64
    assert model(torch.rand(1, 3, 8, 8, dtype=torch.float64)).dtype == torch.float64
    # A fresh model loads the saved statistics.
    other = get_model("tiny", num_classes=3, in_channels=3, mean=[0.0] * 3, std=[1.0] * 3)
    other.load_state_dict(state)
    assert torch.equal(other.normalize.std, torch.tensor(STDS[3]).view(1, 3, 1, 1))


def _num_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


CNN4_PARAMS = (
    (1 * 10 * 5 * 5 + 10)  # conv1
    + (10 * 20 * 5 * 5 + 20)  # conv2
    + (320 * 50 + 50)  # fc1
    + (50 * 10 + 10)  # fc2
)
TINY_PARAMS = (1 * 16 * 9 + 16) + (16 * 32 * 9 + 32) + (128 * 10 + 10)


@pytest.mark.parametrize(
    ("name", "in_channels", "expected"),
    [
        ("resnet18", 3, 11_173_962),
        ("wrn34-10", 3, 46_160_474),
        ("cnn4", 1, 21_840),
        ("tiny", 1, 6_090),
        ("tiny-bn", 1, 6_090 + 2 * (16 + 32)),
    ],
)
def test_parameter_counts(build: Builder, name: str, in_channels: int, expected: int) -> None:
    model = build(name, 10, in_channels)
    assert _num_params(model) == expected
    assert _num_params(model.net) == expected  # normalisation adds no parameters


def test_hand_counts() -> None:
    assert CNN4_PARAMS == 21_840
    assert TINY_PARAMS == 6_090
    for factory in (MODELS.get("tiny"), MODELS.get("tiny-bn")):
        assert _num_params(factory(10, 3)) < 20_000


def test_reference_state_dict_names(build: Builder) -> None:
    resnet_keys = build("resnet18", 10, 3).net.state_dict().keys()
    assert {"conv1.weight", "layer2.0.shortcut.0.weight", "linear.weight"} <= resnet_keys
    assert "layer1.0.shortcut.0.weight" not in resnet_keys
    wrn_keys = build("wrn34-10", 10, 3).net.state_dict().keys()
    assert {"block1.layer.0.convShortcut.weight", "block3.layer.4.conv2.weight"} <= wrn_keys
    assert {"bn1.running_mean", "fc.weight"} <= wrn_keys
    assert "block1.layer.1.convShortcut.weight" not in wrn_keys
    assert "block3.layer.5.conv1.weight" not in wrn_keys  # (34 - 4) / 6 = 5 blocks per group


def test_resnet18_adaptive_pool_equals_avg_pool4(build: Builder) -> None:
    net = build("resnet18", 10, 3).net
    assert isinstance(net, ResNet)
    with torch.no_grad():
        x = torch.rand(2, 3, 32, 32)
        feats = net.features(x)
        assert feats.shape == (2, 512, 4, 4)
        pooled = F.avg_pool2d(feats, 4)
        torch.testing.assert_close(F.adaptive_avg_pool2d(feats, 1), pooled, rtol=0, atol=1e-6)
        reference = net.linear(pooled.view(pooled.size(0), -1))
        torch.testing.assert_close(net(x), reference, rtol=0, atol=1e-6)


def test_wrn_adaptive_pool_equals_avg_pool8() -> None:
    torch.manual_seed(0)
    net = WideResNet(depth=10, widen_factor=1, num_classes=10).eval()
    with torch.no_grad():
        x = torch.rand(2, 3, 32, 32)
        feats = net.features(x)
        assert feats.shape == (2, 64, 8, 8)
        pooled = F.avg_pool2d(feats, 8)
        torch.testing.assert_close(F.adaptive_avg_pool2d(feats, 1), pooled, rtol=0, atol=1e-6)
        torch.testing.assert_close(net(x), net.fc(pooled.view(-1, 64)), rtol=0, atol=1e-6)


def _randomise_bn(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.uniform_(m.bias, -0.5, 0.5)


def test_resnet_block_matches_reference_formula() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 4, 6, 6)
    for stride, planes in [(1, 4), (2, 8)]:
        b = ResBlock(4, planes, stride).eval()
        _randomise_bn(b)
        with torch.no_grad():
            shortcut = x if len(b.shortcut) == 0 else b.shortcut[1](b.shortcut[0](x))
            expected = F.relu(b.bn2(b.conv2(F.relu(b.bn1(b.conv1(x))))) + shortcut)
            torch.testing.assert_close(b(x), expected, rtol=0, atol=0)


def test_wrn_block_matches_reference_formula() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 4, 6, 6)
    with torch.no_grad():
        same = WideBlock(4, 4, 1).eval()
        _randomise_bn(same)
        assert same.equalInOut and same.convShortcut is None
        inner = same.conv2(F.relu(same.bn2(same.conv1(F.relu(same.bn1(x))))))
        torch.testing.assert_close(same(x), x + inner, rtol=0, atol=0)  # raw identity

        wider = WideBlock(4, 8, 2).eval()
        _randomise_bn(wider)
        assert not wider.equalInOut and wider.convShortcut is not None
        act = F.relu(wider.bn1(x))  # shared pre-activation feeds both paths
        inner = wider.conv2(F.relu(wider.bn2(wider.conv1(act))))
        torch.testing.assert_close(wider(x), wider.convShortcut(act) + inner, rtol=0, atol=0)


def test_wrn_rejects_bad_depth() -> None:
    with pytest.raises(InvalidValueError, match="6n \\+ 4"):
        WideResNet(depth=33, widen_factor=1)


class _Const(nn.Module):
    """Returns fixed logits whatever the input."""

    def __init__(self, logits: list[list[float]]) -> None:
        super().__init__()
        self.register_buffer("logits", torch.tensor(logits))

    def forward(self, x: Tensor) -> Tensor:
        return self.logits.expand(x.shape[0], -1)


def test_ensemble_softmax_is_mean_of_member_softmaxes() -> None:
    torch.manual_seed(0)
    ens = get_ensemble("tiny", members=3, num_classes=5, in_channels=1, mean=[0.5], std=[0.5])
    assert isinstance(ens, Ensemble)
    assert len(ens.members) == 3
    assert all(isinstance(m, NormalizedModel) for m in ens.members)
    w0, w1 = (m.net.classifier.weight for m in list(ens.members)[:2])
    assert not torch.equal(w0, w1)  # independently initialised
    x = torch.rand(4, 1, 8, 8)
    with torch.no_grad():
        member_logits = ens.member_logits(x)
        assert len(member_logits) == 3
        expected = torch.stack([z.softmax(-1) for z in member_logits]).mean(0)
        out = ens(x)
    assert out.shape == (4, 5)
    torch.testing.assert_close(out.softmax(-1), expected, rtol=0, atol=1e-6)
    torch.testing.assert_close(out.exp(), expected, rtol=0, atol=1e-6)  # log-probabilities


def test_ensemble_saturated_logits_are_finite() -> None:
    ens = Ensemble([_Const([[1e4, -1e4, 0.0]]), _Const([[-1e4, 1e4, 0.0]])])
    out = ens(torch.zeros(2, 1))
    assert bool(torch.isfinite(out).all())
    torch.testing.assert_close(
        out.softmax(-1), torch.tensor([[0.5, 0.5, 0.0]] * 2), rtol=0, atol=1e-6
    )
    assert out[0, 0].item() == pytest.approx(torch.log(torch.tensor(0.5)).item(), abs=1e-6)


def test_ensemble_single_member_is_log_softmax() -> None:
    ens = Ensemble([_Const([[1.0, 2.0, 3.0]])])
    expected = F.log_softmax(torch.tensor([[1.0, 2.0, 3.0]]), -1)
    torch.testing.assert_close(ens(torch.zeros(1, 1)), expected, rtol=0, atol=1e-7)


def test_ensemble_gradients_reach_every_member() -> None:
    ens = get_ensemble("tiny", members=2, num_classes=3, in_channels=1, mean=[0.5], std=[0.5])
    x = torch.rand(2, 1, 8, 8, requires_grad=True)
    F.cross_entropy(ens(x), torch.tensor([0, 2])).backward()
    assert x.grad is not None and bool(x.grad.abs().sum() > 0)
    for member in ens.members:
        assert member.net.classifier.weight.grad is not None


def test_unknown_model_name_lists_valid_names() -> None:
    with pytest.raises(UnknownNameError) as info:
        get_model("resnet50", num_classes=10, in_channels=3, mean=MEANS[3], std=STDS[3])
    message = str(info.value)
    assert "resnet50" in message
    assert message.endswith("valid: cnn4, resnet18, tiny, tiny-bn, wrn34-10")
    with pytest.raises(UnknownNameError):
        get_ensemble("nope", members=2, num_classes=10, in_channels=1, mean=[0.5], std=[0.5])


@pytest.mark.parametrize(
    ("in_channels", "mean", "std"),
    [
        (3, [0.5], [0.5, 0.5, 0.5]),  # mean too short
        (1, [0.5, 0.5, 0.5], [0.5]),  # mean too long
        (3, [0.5, 0.5, 0.5], [0.5]),  # std too short
        (1, [0.5], [0.0]),  # std not positive
        (1, [float("nan")], [0.5]),  # mean not finite
    ],
)
def test_bad_statistics_raise_invalid_value(
    in_channels: int, mean: list[float], std: list[float]
) -> None:
    with pytest.raises(InvalidValueError):
        get_model("tiny", num_classes=10, in_channels=in_channels, mean=mean, std=std)


def test_bad_counts_raise_invalid_value() -> None:
    with pytest.raises(InvalidValueError, match="members"):
        get_ensemble("tiny", members=0, num_classes=10, in_channels=1, mean=[0.5], std=[0.5])
    with pytest.raises(InvalidValueError, match="num_classes"):
        get_model("tiny", num_classes=0, in_channels=1, mean=[0.5], std=[0.5])
    with pytest.raises(InvalidValueError):
        Ensemble([])
