"""ResNet18, CIFAR variant, as in the TRADES repository (``models/resnet.py``).

3x3 stem convolution with 64 channels and BatchNorm, no max-pool, BasicBlocks ``[2, 2, 2, 2]``,
global average pooling and ``Linear(512, num_classes)``. Module and attribute names follow the
reference so that its ``state_dict`` keys match.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["BasicBlock", "ResNet", "resnet18"]


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with an identity or 1x1 conv-BN shortcut (post-activation).

    Args:
        in_planes: Input channels.
        planes: Output channels.
        stride: Stride of the first convolution and of the projection shortcut.
    """

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(
            in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False
        )
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != self.expansion * planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(
                    in_planes, self.expansion * planes, kernel_size=1, stride=stride, bias=False
                ),
                nn.BatchNorm2d(self.expansion * planes),
            )

    def forward(self, x: Tensor) -> Tensor:
        """Apply the block."""
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out = out + self.shortcut(x)
        return F.relu(out)


class ResNet(nn.Module):
    """CIFAR-style ResNet (TRADES ``models/resnet.py``).

    Args:
        block: The residual block class.
        num_blocks: Blocks per stage (four stages of 64, 128, 256 and 512 channels).
        num_classes: Number of output logits.
        in_channels: Input image channels.
    """

    def __init__(
        self,
        block: type[BasicBlock],
        num_blocks: list[int],
        num_classes: int = 10,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        self.in_planes = 64
        self.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.layer1 = self._make_layer(block, 64, num_blocks[0], stride=1)
        self.layer2 = self._make_layer(block, 128, num_blocks[1], stride=2)
        self.layer3 = self._make_layer(block, 256, num_blocks[2], stride=2)
        self.layer4 = self._make_layer(block, 512, num_blocks[3], stride=2)
        self.linear = nn.Linear(512 * block.expansion, num_classes)

    def _make_layer(
        self, block: type[BasicBlock], planes: int, num_blocks: int, stride: int
    ) -> nn.Sequential:
        strides = [stride] + [1] * (num_blocks - 1)
        layers = []
        for s in strides:
            layers.append(block(self.in_planes, planes, s))
            self.in_planes = planes * block.expansion
        return nn.Sequential(*layers)

    def features(self, x: Tensor) -> Tensor:
        """The last feature map, before pooling (``(N, 512, 4, 4)`` for 32x32 inputs)."""
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer1(out)
        out = self.layer2(out)
        out = self.layer3(out)
        return self.layer4(out)

    def forward(self, x: Tensor) -> Tensor:
        """Return logits of shape ``(N, num_classes)``."""
        out = self.features(x)
        # The reference uses F.avg_pool2d(out, 4); on 32x32 inputs the final map is 4x4, so the
        # global adaptive pool below is the same average, and it also accepts other input sizes.
        out = F.adaptive_avg_pool2d(out, 1)
        out = out.flatten(1)
        return self.linear(out)


def resnet18(num_classes: int = 10, in_channels: int = 3) -> ResNet:
    """ResNet18 (BasicBlock ``[2, 2, 2, 2]``), CIFAR variant, as in TRADES.

    Args:
        num_classes: Number of output logits.
        in_channels: Input image channels.

    Returns:
        The raw network (no input normalisation); 11,173,962 parameters for CIFAR-10.

    Example:
        >>> import torch
        >>> net = resnet18(num_classes=10).eval()
        >>> net(torch.rand(1, 3, 32, 32)).shape
        torch.Size([1, 10])
    """
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes=num_classes, in_channels=in_channels)
