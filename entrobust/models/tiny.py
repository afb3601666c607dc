"""Tiny CNNs for tests and the embedded 8x8 ``digits`` dataset.

Both work on any input size of at least 3x3 (8x8, 28x28, 32x32, ...) and any number of input
channels, thanks to an adaptive average pool to 2x2 before the classifier.
"""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["TinyConv", "TinyConvBN", "tiny", "tiny_bn"]


class TinyConv(nn.Module):
    """``Conv(in,16,3,p1)-ReLU-Conv(16,32,3,s2,p1)-ReLU-AdaptiveAvgPool(2)-Flatten-Linear(128,C)``.

    No BatchNorm, so train and eval modes compute the same function.

    Args:
        num_classes: Number of output logits.
        in_channels: Input image channels.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 16, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, kernel_size=3, stride=2, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(2),
        )
        self.classifier = nn.Linear(128, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """Return logits of shape ``(N, num_classes)``."""
        return self.classifier(self.features(x).flatten(1))


class TinyConvBN(nn.Module):
    """:class:`TinyConv` with ``BatchNorm2d`` after each convolution.

    Args:
        num_classes: Number of output logits.
        in_channels: Input image channels.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 16, kernel_size=3, padding=1),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.Conv2d(16, 32, kernel_size=3, stride=2, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(2),
        )
        self.classifier = nn.Linear(128, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """Return logits of shape ``(N, num_classes)``."""
        return self.classifier(self.features(x).flatten(1))


def tiny(num_classes: int = 10, in_channels: int = 1) -> TinyConv:
    """A :class:`TinyConv` (no BatchNorm).

    Args:
        num_classes: Number of output logits.
        in_channels: Input image channels.

    Returns:
        The raw network (no input normalisation).

    Example:
        >>> import torch
        >>> tiny(num_classes=10, in_channels=1)(torch.rand(2, 1, 8, 8)).shape
        torch.Size([2, 10])
    """
    return TinyConv(num_classes=num_classes, in_channels=in_channels)


def tiny_bn(num_classes: int = 10, in_channels: int = 1) -> TinyConvBN:
    """A :class:`TinyConvBN` (BatchNorm after each convolution).

    Args:
        num_classes: Number of output logits.
        in_channels: Input image channels.

    Returns:
        The raw network (no input normalisation).

    Example:
        >>> import torch
        >>> tiny_bn(num_classes=10, in_channels=3).eval()(torch.rand(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """
    return TinyConvBN(num_classes=num_classes, in_channels=in_channels)
