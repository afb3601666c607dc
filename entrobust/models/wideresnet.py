"""WideResNet-34-10 as in the TRADES repository (``models/wideresnet.py``).

Pre-activation BasicBlocks with the reference's ``equalInOut`` / ``convShortcut`` logic, three
groups of ``(depth - 4) / 6`` blocks of widths ``16k, 32k, 64k``, a final BN-ReLU, global
average pooling and a linear classifier. Module and attribute names follow the reference so that
its ``state_dict`` keys match; the initialisation is the reference's too.
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn

from entrobust.errors import InvalidValueError

__all__ = ["BasicBlock", "NetworkBlock", "WideResNet", "wrn34_10"]


class BasicBlock(nn.Module):
    """Pre-activation wide block (BN-ReLU-conv, BN-ReLU-[dropout]-conv, plus shortcut).

    When the input and output widths differ, the BN-ReLU pre-activation is applied to the input
    itself and shared by the main path and the 1x1 ``convShortcut``; otherwise the shortcut is
    the raw identity.

    Args:
        in_planes: Input channels.
        out_planes: Output channels.
        stride: Stride of the first convolution and of the shortcut.
        drop_rate: Dropout probability between the two convolutions.
    """

    def __init__(
        self, in_planes: int, out_planes: int, stride: int, drop_rate: float = 0.0
    ) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        # The reference uses ReLU(inplace=True); out-of-place gives the same values and keeps
        # the block safe for hooks and functional transforms.
        self.relu1 = nn.ReLU()
        self.conv1 = nn.Conv2d(
            in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False
        )
        self.bn2 = nn.BatchNorm2d(out_planes)
        self.relu2 = nn.ReLU()
        self.conv2 = nn.Conv2d(
            out_planes, out_planes, kernel_size=3, stride=1, padding=1, bias=False
        )
        self.droprate = drop_rate
        self.equalInOut = in_planes == out_planes
        self.convShortcut: nn.Conv2d | None = (
            None
            if self.equalInOut
            else nn.Conv2d(
                in_planes, out_planes, kernel_size=1, stride=stride, padding=0, bias=False
            )
        )

    def forward(self, x: Tensor) -> Tensor:
        """Apply the block."""
        if self.equalInOut:
            out = self.relu1(self.bn1(x))
            shortcut = x
        else:
            x = self.relu1(self.bn1(x))
            out = x
            assert self.convShortcut is not None
            shortcut = self.convShortcut(x)
        out = self.relu2(self.bn2(self.conv1(out)))
        if self.droprate > 0:
            out = F.dropout(out, p=self.droprate, training=self.training)
        out = self.conv2(out)
        return shortcut + out


class NetworkBlock(nn.Module):
    """A group of ``nb_layers`` blocks; only the first changes width and stride.

    Args:
        nb_layers: Number of blocks.
        in_planes: Input channels of the first block.
        out_planes: Output channels of every block.
        block: The block class.
        stride: Stride of the first block.
        drop_rate: Dropout probability inside each block.
    """

    def __init__(
        self,
        nb_layers: int,
        in_planes: int,
        out_planes: int,
        block: type[BasicBlock],
        stride: int,
        drop_rate: float = 0.0,
    ) -> None:
        super().__init__()
        self.layer = nn.Sequential(
            *(
                block(
                    in_planes if i == 0 else out_planes,
                    out_planes,
                    stride if i == 0 else 1,
                    drop_rate,
                )
                for i in range(int(nb_layers))
            )
        )

    def forward(self, x: Tensor) -> Tensor:
        """Apply the blocks in turn."""
        return self.layer(x)


class WideResNet(nn.Module):
    """WideResNet-depth-widen_factor (TRADES ``models/wideresnet.py``).

    Args:
        depth: Total depth; ``depth - 4`` must be divisible by 6.
        widen_factor: Width multiplier ``k``.
        num_classes: Number of output logits.
        in_channels: Input image channels.
        drop_rate: Dropout probability inside each block.

    Raises:
        InvalidValueError: If ``(depth - 4) % 6 != 0``.

    Example:
        >>> import torch
        >>> net = WideResNet(depth=10, widen_factor=1, num_classes=3).eval()
        >>> net(torch.rand(2, 3, 32, 32)).shape
        torch.Size([2, 3])
    """

    def __init__(
        self,
        depth: int = 34,
        widen_factor: int = 10,
        num_classes: int = 10,
        in_channels: int = 3,
        drop_rate: float = 0.0,
    ) -> None:
        super().__init__()
        if depth < 10 or (depth - 4) % 6 != 0:
            raise InvalidValueError(f"WideResNet depth must be 6n + 4 with n >= 1, got {depth}")
        n_channels = [16, 16 * widen_factor, 32 * widen_factor, 64 * widen_factor]
        n = (depth - 4) // 6
        block = BasicBlock
        self.conv1 = nn.Conv2d(
            in_channels, n_channels[0], kernel_size=3, stride=1, padding=1, bias=False
        )
        self.block1 = NetworkBlock(n, n_channels[0], n_channels[1], block, 1, drop_rate)
        self.block2 = NetworkBlock(n, n_channels[1], n_channels[2], block, 2, drop_rate)
        self.block3 = NetworkBlock(n, n_channels[2], n_channels[3], block, 2, drop_rate)
        self.bn1 = nn.BatchNorm2d(n_channels[3])
        self.relu = nn.ReLU()
        self.fc = nn.Linear(n_channels[3], num_classes)
        self.nChannels = n_channels[3]

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def features(self, x: Tensor) -> Tensor:
        """The last feature map after BN-ReLU, before pooling (8x8 for 32x32 inputs)."""
        out = self.conv1(x)
        out = self.block1(out)
        out = self.block2(out)
        out = self.block3(out)
        return self.relu(self.bn1(out))

    def forward(self, x: Tensor) -> Tensor:
        """Return logits of shape ``(N, num_classes)``."""
        out = self.features(x)
        # The reference uses F.avg_pool2d(out, 8); on 32x32 inputs the final map is 8x8, so the
        # global adaptive pool below is the same average, and it also accepts other input sizes.
        out = F.adaptive_avg_pool2d(out, 1)
        out = out.flatten(1)
        return self.fc(out)


def wrn34_10(num_classes: int = 10, in_channels: int = 3) -> WideResNet:
    """WRN-34-10 (depth 34, widen factor 10, no dropout), as in TRADES.

    Args:
        num_classes: Number of output logits.
        in_channels: Input image channels.

    Returns:
        The raw network (no input normalisation); 46,160,474 parameters for CIFAR-10.

    Example:
        >>> import torch
        >>> with torch.device("meta"):  # build without allocating memory
        ...     net = wrn34_10(num_classes=10)
        >>> sum(p.numel() for p in net.parameters())
        46160474
    """
    return WideResNet(
        depth=34, widen_factor=10, num_classes=num_classes, in_channels=in_channels, drop_rate=0.0
    )
