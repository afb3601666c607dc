"""The paper's four-layer MNIST CNN."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["CNN4", "cnn4"]


class CNN4(nn.Module):
    """Four-layer CNN for 28x28 MNIST images, returning logits.

    ``Conv(in, 10, 5) → max_pool2d(2) → ReLU → Conv(10, 20, 5) → max_pool2d(2) → ReLU →
    flatten → Linear(320, 50) → ReLU → Linear(50, num_classes)``.

    The paper prints the convolutions with stride 5 and a single fully connected layer
    320 → 10; those numbers do not fit together (with stride 5 a 28x28 input shrinks to 5x5,
    then 2x2 after pooling, and cannot give 320 features). We use the stride-1 reading, the
    classic PyTorch MNIST network, whose shapes do fit: 28 → 24 (conv 5) → 12 (pool) → 8
    (conv 5) → 4 (pool), and 20 · 4 · 4 = 320 features, followed by 320 → 50 → num_classes.
    The input must therefore be 28x28. With 1 input channel and 10 classes the network has
    260 + 5,020 + 16,050 + 510 = 21,840 parameters.

    Args:
        num_classes: Number of output logits.
        in_channels: Input image channels.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """Return logits of shape ``(N, num_classes)`` for inputs ``(N, C, 28, 28)``."""
        out = F.relu(F.max_pool2d(self.conv1(x), 2))
        out = F.relu(F.max_pool2d(self.conv2(out), 2))
        out = out.flatten(1)
        out = F.relu(self.fc1(out))
        return self.fc2(out)


def cnn4(num_classes: int = 10, in_channels: int = 1) -> CNN4:
    """The paper's MNIST four-layer CNN (stride-1 reading, see :class:`CNN4`).

    Args:
        num_classes: Number of output logits.
        in_channels: Input image channels.

    Returns:
        The raw network (no input normalisation).

    Example:
        >>> import torch
        >>> net = cnn4()
        >>> net(torch.rand(2, 1, 28, 28)).shape
        torch.Size([2, 10])
        >>> sum(p.numel() for p in net.parameters())
        21840
    """
    return CNN4(num_classes=num_classes, in_channels=in_channels)
