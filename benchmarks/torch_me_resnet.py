"""ME-ResNet in plain PyTorch (channels-last 3D), the comparison point of ``model_throughput.py``.

The same architecture as ``me_resnet.models.resnet.build_me_resnet`` (paper §2.2, Fig. 4-5):
stem Conv3d(3x7x7, stride (1,2,2)) + BN + ReLU + MaxPool(1x3x3, stride (1,2,2)),
Bottleneck3D stages (1x1x1 -> 3x3x3 -> 1x1x1, stride on the first 1x1x1 and the
projection shortcut, convs with bias, BN eps 1.001e-5), CBAM (sigmoid gates, shared
MLP with bias, 7x7x7 spatial conv without bias) on the third conv's output, global
average pooling and a linear head. Only for benchmarking: not part of the package.
"""

from __future__ import annotations

import torch
from torch import nn

BN_EPSILON = 1.001e-5


class CBAM3d(nn.Module):
    def __init__(self, channels: int, reduction: int = 16, kernel: int = 7):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.mlp = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(), nn.Linear(hidden, channels))
        self.spatial = nn.Conv3d(2, 1, kernel, padding=kernel // 2, bias=False)

    def forward(self, x):  # (B, C, T, H, W), memory channels-last
        gate = torch.sigmoid(self.mlp(x.mean(dim=(2, 3, 4))) + self.mlp(x.amax(dim=(2, 3, 4))))
        x = x * gate[:, :, None, None, None]
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.spatial(pooled))


class Bottleneck3d(nn.Module):
    def __init__(self, cin: int, filters: int, stride: int, shortcut: bool, reduction: int):
        super().__init__()
        cout = 4 * filters
        self.shortcut = (
            nn.Sequential(nn.Conv3d(cin, cout, 1, stride), nn.BatchNorm3d(cout, BN_EPSILON)) if shortcut else None
        )
        self.body = nn.Sequential(
            nn.Conv3d(cin, filters, 1, stride),
            nn.BatchNorm3d(filters, BN_EPSILON),
            nn.ReLU(),
            nn.Conv3d(filters, filters, 3, padding=1),
            nn.BatchNorm3d(filters, BN_EPSILON),
            nn.ReLU(),
            nn.Conv3d(filters, cout, 1),
            nn.BatchNorm3d(cout, BN_EPSILON),
            CBAM3d(cout, reduction),
        )

    def forward(self, x):
        residual = x if self.shortcut is None else self.shortcut(x)
        return torch.relu(residual + self.body(x))


class MEResNet(nn.Module):
    def __init__(self, num_classes=3, blocks=(3, 4, 6, 3), width=64, reduction=16, in_channels=3):
        super().__init__()
        layers = [
            nn.Conv3d(in_channels, width, (3, 7, 7), (1, 2, 2), padding=(1, 3, 3)),
            nn.BatchNorm3d(width, BN_EPSILON),
            nn.ReLU(),
            nn.MaxPool3d((1, 3, 3), (1, 2, 2), padding=(0, 1, 1)),
        ]
        cin = width
        for stage, (count, multiplier) in enumerate(zip(blocks, (1, 2, 4, 8))):
            for index in range(count):
                stride = (1 if stage == 0 else 2) if index == 0 else 1
                layers.append(Bottleneck3d(cin, width * multiplier, stride, index == 0, reduction))
                cin = 4 * width * multiplier
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(cin, num_classes)

    def forward(self, x):  # x: (B, C, T, H, W); returns logits
        return self.head(self.features(x).mean(dim=(2, 3, 4)))


def build(num_classes=3, blocks=(3, 4, 6, 3), width=64, reduction=16) -> nn.Module:
    """The model in ``torch.channels_last_3d`` memory format."""
    return MEResNet(num_classes, blocks, width, reduction).to(memory_format=torch.channels_last_3d)


def to_input(x_ndhwc) -> torch.Tensor:
    """(B, T, H, W, C) numpy -> (B, C, T, H, W) tensor stored channels-last (no copy of the layout)."""
    return torch.from_numpy(x_ndhwc).permute(0, 4, 1, 2, 3)
