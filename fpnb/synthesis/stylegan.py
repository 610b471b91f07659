"""A compact StyleGAN2 (grey, one channel) in pure PyTorch, after rosinality's ``model.py``.

Layout follows the paper's config E/F: mapping MLP, constant 4x4 input, modulated and
demodulated 3x3 convolutions with per-pixel noise, a skip generator that sums upsampled
to-grey outputs, and a residual discriminator with a minibatch-stddev feature.

Choices made for readability and for CPUs:
- no custom CUDA ops: bias + leaky ReLU is plain ``F.leaky_relu``, resampling is
  ``F.interpolate`` / average pooling;
- modulation is applied to the activations, not the weights ("non-fused" modconv in the
  official code): ``conv(x * s) * d`` equals a conv with modulated, demodulated weights,
  but runs as one ordinary batched conv instead of a grouped conv per sample;
- upsampling inside a style block is the 3x3 conv at the lower resolution followed by a
  bilinear 2x ``F.interpolate`` (zero insertion + the [1, 3, 3, 1] filter of StyleGAN2, up
  to border handling); the skip path upsamples the same way.  This departs from StyleGAN2's
  transposed conv + blur (the conv sees the coarse grid), at the same multiply-adds and
  without a depthwise blur, which is as slow as a full conv on CPU;
- downsampling in the discriminator is a 2x2 average pool before the conv;
- activations are kept channels-last, which doubles mkldnn conv speed on CPU;
- CPU time goes to full-size elementwise passes more than to convs, so the sqrt(2) gain of
  each leaky ReLU is folded into the preceding weights (``lrelu(g * x) = g * lrelu(x)``),
  demodulation and bias share one ``addcmul`` before upsampling, and noise and activation
  run in place; the arithmetic is the paper's;
- the default ``channel_multiplier`` is 1 (StyleGAN2: 2), halving the width from 64 px on:
  with ``channels=128`` a 128 px generator then samples several times faster than 20 images/s
  on 2 CPU cores (benchmarks/bench_stylegan.py).
"""
from __future__ import annotations

import math
import random

import torch
import torch.nn.functional as F
from torch import nn

LRELU_GAIN = math.sqrt(2)  # keeps unit variance through leaky ReLU(0.2)


def channel_widths(resolution: int, channels: int, channel_multiplier: int) -> dict[int, int]:
    """Feature maps per resolution: ``channels`` up to 32 px (64 px with multiplier 2), then halving.

    ``channels=512, channel_multiplier=2`` is StyleGAN2's (and seed 001's) 256 px configuration.
    """
    widths = {}
    res = 4
    while res <= resolution:
        widths[res] = max(1, min(channels, channels * channel_multiplier * 32 // res))
        res *= 2
    return widths


def _check_resolution(resolution: int) -> int:
    """log2 of a power-of-two resolution >= 8."""
    log_size = int(math.log2(resolution))
    if resolution < 8 or 2 ** log_size != resolution:
        raise ValueError(f"resolution: expected a power of two >= 8, got {resolution}")
    return log_size


class EqualLinear(nn.Module):
    """Linear layer with equalised learning rate (weights scaled at runtime, not at init)."""

    def __init__(self, in_dim: int, out_dim: int, bias_init: float = 0.0, lr_mul: float = 1.0,
                 activate: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init)))
        self.scale = lr_mul / math.sqrt(in_dim)
        self.lr_mul = lr_mul
        self.activate = activate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gain = LRELU_GAIN if self.activate else 1.0
        out = F.linear(x, self.weight * (self.scale * gain), self.bias * (self.lr_mul * gain))
        return F.leaky_relu(out, 0.2) if self.activate else out


class MappingNetwork(nn.Module):
    """z -> w: pixel norm then ``n_mlp`` leaky-ReLU layers at 1/100 learning rate."""

    def __init__(self, style_dim: int, n_mlp: int, lr_mul: float = 0.01):
        super().__init__()
        self.layers = nn.Sequential(
            *[EqualLinear(style_dim, style_dim, lr_mul=lr_mul, activate=True) for _ in range(n_mlp)])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = z * torch.rsqrt(z.pow(2).mean(dim=1, keepdim=True) + 1e-8)
        return self.layers(z)


class ModulatedConv2d(nn.Module):
    """Conv whose input channels are scaled by a style and whose outputs are demodulated."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, style_dim: int,
                 demodulate: bool = True, upsample: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.scale = 1 / math.sqrt(in_channels * kernel_size ** 2)
        self.modulation = EqualLinear(style_dim, in_channels, bias_init=1.0)
        self.demodulate = demodulate
        self.upsample = upsample
        self.padding = kernel_size // 2

    def forward(self, x: torch.Tensor, style: torch.Tensor, bias: torch.Tensor | None = None,
                gain: float = 1.0) -> torch.Tensor:
        """``gain * (conv(x * s) * d + bias)``, upsampled 2x when built with ``upsample``."""
        s = self.modulation(style)  # B x C_in
        weight = self.weight * self.scale  # C_out x C_in x k x k
        x = F.conv2d(x * s[:, :, None, None].to(x.dtype), weight, padding=self.padding)
        if self.demodulate:  # B x C_out: unit expected output variance, computed in float32
            s = s.float()
            scale = torch.rsqrt((weight.pow(2).sum(dim=(2, 3))[None] * s[:, None, :].pow(2)).sum(2) + 1e-8)
            scale = scale[:, :, None, None] * gain
        else:
            scale = torch.full_like(s[:, :1, None, None], gain)
        scale = scale.to(x.dtype)  # under autocast the activations stay bfloat16
        x = x * scale if bias is None else torch.addcmul((bias * gain).to(x.dtype), x, scale)
        if self.upsample:  # bilinear keeps per-channel constants, so scale and bias may come first
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        return x


class NoiseInjection(nn.Module):
    """Adds (in place) per-pixel Gaussian noise scaled by one learned weight, zero at init.

    ``fade`` (not learned, not saved; 1 by default) multiplies that scale: training fades a layer's
    noise out with it (``training.train_stylegan``'s ``noise_fade``).
    """

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))
        self.fade = 1.0

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None = None, gain: float = 1.0) -> torch.Tensor:
        if noise is None:
            noise = x.new_empty(x.shape[0], 1, x.shape[2], x.shape[3]).normal_()
        scale = (self.weight * (gain * self.fade)).to(x.dtype)  # one dtype: no cast per pixel
        return x.addcmul_(noise.to(x.dtype), scale)


class StyledConv(nn.Module):
    """Modulated conv + bias -> noise (unless ``noise=False``: a layer without noise input) -> leaky ReLU."""

    def __init__(self, in_channels: int, out_channels: int, style_dim: int, upsample: bool = False,
                 noise: bool = True):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, style_dim, upsample=upsample)
        self.noise = NoiseInjection() if noise else None
        self.bias = nn.Parameter(torch.zeros(1, out_channels, 1, 1))

    def forward(self, x: torch.Tensor, style: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        x = self.conv(x, style, self.bias, gain=LRELU_GAIN)
        if self.noise is not None:
            x = self.noise(x, noise, gain=LRELU_GAIN)
        return F.leaky_relu_(x, 0.2)


class ToGrey(nn.Module):
    """1x1 modulated conv (no demodulation) to one grey channel, added to the upsampled skip."""

    def __init__(self, in_channels: int, style_dim: int):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, 1, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 1, 1, 1))

    def forward(self, x: torch.Tensor, style: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        out = self.conv(x, style, self.bias)
        if skip is not None:
            out = out + F.interpolate(skip, scale_factor=2, mode="bilinear", align_corners=False)
        return out


class Generator(nn.Module):
    """StyleGAN2 skip generator: ``n_latent`` style inputs, output B x 1 x R x R in about [-1, 1].

    ``noise_from``: the smallest side (px) whose convs take per-pixel noise; coarser layers draw from w
    alone (4: noise everywhere, as StyleGAN2). Their noise maps stay in ``fixed_noise`` and are ignored.
    """

    def __init__(self, resolution: int, style_dim: int = 512, n_mlp: int = 8, channels: int = 128,
                 channel_multiplier: int = 1, noise_from: int = 4):
        super().__init__()
        log_size = _check_resolution(resolution)
        self.args = dict(resolution=resolution, style_dim=style_dim, n_mlp=n_mlp, channels=channels,
                         channel_multiplier=channel_multiplier, noise_from=noise_from)
        self.resolution = resolution
        self.style_dim = style_dim
        self.n_latent = 2 * log_size - 2  # two convs + to-grey at 4 px, then per block conv, conv, to-grey
        widths = channel_widths(resolution, channels, channel_multiplier)
        self.mapping = MappingNetwork(style_dim, n_mlp)
        self.input = nn.Parameter(torch.randn(1, widths[4], 4, 4))  # learned constant
        self.conv1 = StyledConv(widths[4], widths[4], style_dim, noise=noise_from <= 4)
        self.to_grey1 = ToGrey(widths[4], style_dim)
        self.convs = nn.ModuleList()
        self.to_greys = nn.ModuleList()
        self.register_buffer("noise_4", torch.randn(1, 1, 4, 4))
        for i in range(3, log_size + 1):
            res = 2 ** i
            self.convs.append(StyledConv(widths[res // 2], widths[res], style_dim, upsample=True,
                                         noise=noise_from <= res))
            self.convs.append(StyledConv(widths[res], widths[res], style_dim, noise=noise_from <= res))
            self.to_greys.append(ToGrey(widths[res], style_dim))
            for j in range(2):
                self.register_buffer(f"noise_{res}_{j}", torch.randn(1, 1, res, res))
        # running mean of w, updated by training (StyleGAN2's dlatent_avg): the default truncation centre
        self.register_buffer("w_avg", torch.zeros(style_dim))

    def fixed_noise(self) -> list[torch.Tensor]:
        """The stored per-layer noise maps (what deterministic sampling uses)."""
        names = ["noise_4"] + [f"noise_{2 ** i}_{j}" for i in range(3, int(math.log2(self.resolution)) + 1)
                               for j in range(2)]
        return [getattr(self, name) for name in names]

    @torch.no_grad()
    def mean_latent(self, n: int = 4096, seed: int = 0) -> torch.Tensor:
        """Mean of w over ``n`` z drawn with a fixed seed (1 x style_dim)."""
        z = torch.randn(n, self.style_dim, generator=torch.Generator().manual_seed(seed))
        return self.mapping(z.to(self.input.device)).mean(0, keepdim=True)

    def forward(self, styles: list[torch.Tensor] | torch.Tensor, truncation: float = 1.0,
                truncation_latent: torch.Tensor | None = None, input_is_latent: bool = False,
                noise: list[torch.Tensor] | str | None = None, return_latents: bool = False,
                inject_index: int | None = None) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Images from a list of one or two z (or w) batches; two are mixed at ``inject_index``.

        ``styles`` may also be one tensor: B x style_dim, or B x n_latent x style_dim (w+).
        ``noise``: None draws fresh noise, "fixed" uses the stored maps, or a list per layer.
        With ``return_latents`` the B x n_latent x style_dim w+ comes back too.
        """
        if isinstance(styles, torch.Tensor) and styles.dim() == 3:
            latent = styles if input_is_latent else self.mapping(styles.flatten(0, 1)).view_as(styles)
        else:
            styles = [styles] if isinstance(styles, torch.Tensor) else list(styles)
            if not input_is_latent:
                styles = [self.mapping(z) for z in styles]
            if len(styles) == 1:
                latent = styles[0][:, None].expand(-1, self.n_latent, -1)
            else:
                if inject_index is None:
                    inject_index = random.randint(1, self.n_latent - 1)
                latent = torch.cat([styles[0][:, None].expand(-1, inject_index, -1),
                                    styles[1][:, None].expand(-1, self.n_latent - inject_index, -1)], 1)
        if truncation != 1.0:
            center = self.w_avg[None, None] if truncation_latent is None else truncation_latent.view(1, 1, -1)
            latent = center + truncation * (latent - center)
        if noise is None:
            noise = [None] * (self.n_latent - 1)
        elif isinstance(noise, str):
            if noise != "fixed":
                raise ValueError(f"noise: expected None, 'fixed' or a list, got {noise!r}")
            noise = self.fixed_noise()

        x = self.input.expand(latent.shape[0], -1, -1, -1).contiguous(memory_format=torch.channels_last)
        x = self.conv1(x, latent[:, 0], noise[0])
        skip = self.to_grey1(x, latent[:, 1])
        i = 1
        for up_conv, conv, to_grey, n_up, n_conv in zip(
                self.convs[::2], self.convs[1::2], self.to_greys, noise[1::2], noise[2::2]):
            x = up_conv(x, latent[:, i], n_up)
            x = conv(x, latent[:, i + 1], n_conv)
            skip = to_grey(x, latent[:, i + 2], skip)
            i += 2
        return (skip, latent) if return_latents else skip


class EqualConv2d(nn.Module):
    """Conv2d with equalised learning rate; ``gain`` scales weights and bias."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, padding: int = 0,
                 bias: bool = True, gain: float = 1.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.scale = gain / math.sqrt(in_channels * kernel_size ** 2)
        self.gain = gain
        self.padding = padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.bias * self.gain
        return F.conv2d(x, self.weight * self.scale, bias, padding=self.padding)


class ConvLayer(nn.Sequential):
    """Optional 2x2 average-pool downsampling, equalised conv, optional bias + leaky ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, downsample: bool = False,
                 activate: bool = True):
        layers: list[nn.Module] = [nn.AvgPool2d(2)] if downsample else []
        layers.append(EqualConv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2,
                                  bias=activate, gain=LRELU_GAIN if activate else 1.0))
        if activate:
            layers.append(nn.LeakyReLU(0.2))
        super().__init__(*layers)


class ResBlock(nn.Module):
    """Two 3x3 convs (the second downsamples) plus a 1x1 downsampling skip, summed / sqrt(2)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv1 = ConvLayer(in_channels, in_channels, 3)
        self.conv2 = ConvLayer(in_channels, out_channels, 3, downsample=True)
        self.skip = ConvLayer(in_channels, out_channels, 1, downsample=True, activate=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.conv2(self.conv1(x)) + self.skip(x)) / math.sqrt(2)


class Discriminator(nn.Module):
    """Residual StyleGAN2 discriminator: B x 1 x R x R -> B x 1 logits."""

    def __init__(self, resolution: int, channels: int = 128, channel_multiplier: int = 1,
                 stddev_group: int = 4):
        super().__init__()
        log_size = _check_resolution(resolution)
        self.args = dict(resolution=resolution, channels=channels, channel_multiplier=channel_multiplier,
                         stddev_group=stddev_group)
        widths = channel_widths(resolution, channels, channel_multiplier)
        self.from_grey = ConvLayer(1, widths[resolution], 1)
        self.blocks = nn.Sequential(*[ResBlock(widths[2 ** i], widths[2 ** (i - 1)])
                                      for i in range(log_size, 2, -1)])  # R -> 4 px
        self.stddev_group = stddev_group
        self.final_conv = ConvLayer(widths[4] + 1, widths[4], 3)
        self.final_linear = nn.Sequential(EqualLinear(widths[4] * 16, widths[4], activate=True),
                                          EqualLinear(widths[4], 1))

    def minibatch_stddev(self, x: torch.Tensor) -> torch.Tensor:
        """Append the mean std over groups of samples as one extra feature map."""
        b, c, h, w = x.shape
        group = next(g for g in range(min(b, self.stddev_group), 0, -1) if b % g == 0)
        y = x.view(group, -1, c, h, w)
        y = torch.sqrt(y.var(0, unbiased=False) + 1e-8).mean(dim=(1, 2, 3))  # B/group
        y = y.view(-1, 1, 1, 1).repeat(group, 1, h, w)
        return torch.cat([x, y], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.from_grey(x.contiguous(memory_format=torch.channels_last)))
        x = self.final_conv(self.minibatch_stddev(x))
        return self.final_linear(x.flatten(1))
