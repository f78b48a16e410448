"""PyTorch replicas of the engine's DRL / JEM networks (nn/drl_models.h, nn/wrn.h), with the same
parameter names and state_dict order, used by make_drl_goldens.py.

* NetResTemb2: DRL's `net_res_temb2` (Gao et al., ICLR 2021; ../../shared/specs/igebm-drl.md
  §2.4), written from the spec: sinusoidal time embedding -> Dense(SN) -> LReLU -> Dense(SN);
  conv_in (SN); levels of residual blocks (conv1 SN, temb_proj SN, conv2 capped SN with gain g,
  3x3 SN conv shortcut when the width changes), 2x2 average pooling between levels; head
  ReLU -> sum over H, W -> <., temb_dense_2(LReLU(temb))> (temb_dense_2 without SN).
  Output f(y, t) = -energy (DRL's sign: high = data-like).
* WideResNet: JEM's WRN trunk (Grathwohl et al. 2020; specs/gebm-jem-mebm.md §2.3) with the
  optional time embedding of the DRL PyTorch port (igebm-drl.md §2.13). Jem wraps it as JEM's
  class F (f, energy_output, class_output).

Spectral norm: torch.nn.utils.spectral_norm (names weight_orig / weight_u / weight_v); the capped
variant (conv2 of each DRL block: W/(s+1e-6)*min(s+1e-6, 1)) is CappedSNConv2d with the same names.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

LEAK = 0.2


def timestep_embedding(t, dim, dtype=torch.float32):
    """DRL's sinusoid (computed in float32, as the TF reference, then cast to dtype):
    [sin(t w), cos(t w)], w_i = exp(-ln(1e4) i/(h-1))."""
    half = dim // 2
    scale = math.log(10000.0) / (half - 1)
    w = torch.exp(torch.arange(half, dtype=torch.float32) * -scale)
    a = t.to(torch.float32)[:, None] * w[None, :]
    return torch.cat([torch.sin(a), torch.cos(a)], dim=1).to(dtype)


def variance_scaling_(w, scale):
    """TF VarianceScaling(scale, 'fan_avg', 'uniform'); scale 0 means 1e-10 (DRL's default_init)."""
    fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(w)
    s = 1e-10 if scale == 0 else scale
    b = math.sqrt(3.0 * s / ((fan_in + fan_out) / 2.0))
    with torch.no_grad():
        w.uniform_(-b, b)


def drl_layer(layer, init_scale=1.0, sn=True):
    """DRL init (variance scaling fan_avg uniform, bias 0), then torch spectral norm if sn."""
    variance_scaling_(layer.weight, init_scale)
    nn.init.zeros_(layer.bias)
    return nn.utils.spectral_norm(layer) if sn else layer


class CappedSNConv2d(nn.Conv2d):
    """Conv2d whose weight is W/(s+1e-6)*min(s+1e-6, 1), s the one-step power estimate of
    torch's spectral norm (same u/v update, same names: weight_orig, weight_u, weight_v)."""

    def __init__(self, *args, eps=1e-12, **kwargs):
        super().__init__(*args, **kwargs)
        w = self.weight
        del self._parameters['weight']
        self.register_parameter('weight_orig', w)
        self.eps = eps
        h = w.shape[0]
        r = w.numel() // h
        self.register_buffer('weight_u', F.normalize(w.new_empty(h).normal_(0, 1), dim=0, eps=eps))
        self.register_buffer('weight_v', F.normalize(w.new_empty(r).normal_(0, 1), dim=0, eps=eps))

    def capped_weight(self):
        wm = self.weight_orig.reshape(self.weight_orig.shape[0], -1)
        u, v = self.weight_u, self.weight_v
        if self.training:
            with torch.no_grad():
                v = F.normalize(torch.mv(wm.t(), u), dim=0, eps=self.eps, out=v)
                u = F.normalize(torch.mv(wm, v), dim=0, eps=self.eps, out=u)
            u, v = u.clone(), v.clone()
        sigma = torch.dot(u, torch.mv(wm, v)) + 1e-6
        return self.weight_orig * (torch.clamp(sigma, max=1.0) / sigma)

    def forward(self, x):
        return F.conv2d(x, self.capped_weight(), self.bias, self.stride, self.padding)


class ResBlock(nn.Module):
    """DRL resnet_block: h = conv1(LReLU(x)) + temb_proj(LReLU(temb)); h = LReLU(h); dropout;
    h = conv2(h) * g; out = shortcut(x) + h (3x3 SN conv shortcut when widths differ)."""

    def __init__(self, c_in, c_out, temb_dim, dropout=0.0, sn=True):
        super().__init__()
        self.g = nn.Parameter(torch.ones(c_out))
        self.conv1 = drl_layer(nn.Conv2d(c_in, c_out, 3, padding=1), sn=sn)
        self.temb_proj = drl_layer(nn.Linear(temb_dim, c_out), sn=sn)
        self.dropout = nn.Dropout(dropout)
        conv2 = CappedSNConv2d(c_out, c_out, 3, padding=1) if sn else nn.Conv2d(c_out, c_out, 3, padding=1)
        variance_scaling_(conv2.weight_orig if sn else conv2.weight, 0.0)
        nn.init.zeros_(conv2.bias)
        self.conv2 = conv2
        self.conv_shortcut = drl_layer(nn.Conv2d(c_in, c_out, 3, padding=1), sn=sn) if c_in != c_out else None

    def forward(self, x, temb):
        h = self.conv1(F.leaky_relu(x, LEAK))
        h = h + self.temb_proj(F.leaky_relu(temb, LEAK))[:, :, None, None]
        h = self.dropout(F.leaky_relu(h, LEAK))
        h = self.conv2(h) * self.g[None, :, None, None]
        skip = self.conv_shortcut(x) if self.conv_shortcut is not None else x
        return skip + h


class NetResTemb2(nn.Module):
    def __init__(self, in_channels=3, ch=128, ch_mult=(1, 2, 2, 2), num_res_blocks=2, dropout=0.0, sn=True):
        super().__init__()
        self.ch = ch
        self.temb_dense_0 = drl_layer(nn.Linear(ch, 4 * ch), sn=sn)
        self.temb_dense_1 = drl_layer(nn.Linear(4 * ch, 4 * ch), sn=sn)
        self.temb_dense_2 = drl_layer(nn.Linear(4 * ch, ch * ch_mult[-1]), sn=False)
        self.conv_in = drl_layer(nn.Conv2d(in_channels, ch, 3, padding=1), sn=sn)
        levels, c = [], ch
        for m in ch_mult:
            blocks = []
            for _ in range(num_res_blocks):
                blocks.append(ResBlock(c, ch * m, 4 * ch, dropout, sn))
                c = ch * m
            levels.append(nn.ModuleList(blocks))
        self.levels = nn.ModuleList(levels)

    def forward(self, y, t):
        temb = self.temb_dense_0(timestep_embedding(t, self.ch, y.dtype))
        temb = self.temb_dense_1(F.leaky_relu(temb, LEAK))
        h = self.conv_in(y)
        for i, blocks in enumerate(self.levels):
            for b in blocks:
                h = b(h, temb)
            if i != len(self.levels) - 1:
                h = F.avg_pool2d(h, 2)
        h = torch.relu(h).sum(dim=(2, 3))
        return (h * self.temb_dense_2(F.leaky_relu(temb, LEAK))).sum(dim=1)


def make_norm(c, norm, momentum):
    return nn.BatchNorm2d(c, momentum=momentum) if norm == 'batch' else None


class WideBasic(nn.Module):
    """JEM wide_basic (pre-activation, stride on conv2, shortcut on the raw x), plus the DRL
    port's time term LReLU(temb_dense(temb)) added after conv1."""

    def __init__(self, c_in, c_out, stride, norm, momentum, dropout, temb_dim):
        super().__init__()
        self.bn1 = make_norm(c_in, norm, momentum)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.dropout = nn.Dropout(dropout)
        self.bn2 = make_norm(c_out, norm, momentum)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, stride=stride, padding=1)
        self.temb_dense = nn.Linear(temb_dim, c_out) if temb_dim else None
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride))

    def forward(self, x, temb):
        h = x if self.bn1 is None else self.bn1(x)
        h = self.conv1(F.leaky_relu(h, LEAK))
        if self.temb_dense is not None:
            h = h + F.leaky_relu(self.temb_dense(temb), LEAK)[:, :, None, None]
        h = self.dropout(h)
        if self.bn2 is not None:
            h = self.bn2(h)
        h = self.conv2(F.leaky_relu(h, LEAK))
        return h + self.shortcut(x)


class WideResNet(nn.Module):
    """JEM Wide_ResNet (with its unused `linear`); time_embedding adds the port's temb_dense_0/1/2
    and per-block temb_dense, and forward(x, t) returns f = sum(pool(h) * temb_dense_2(LReLU(temb)))."""

    def __init__(self, depth=28, widen_factor=10, num_classes=10, in_channels=3, norm=None,
                 momentum=0.9, dropout=0.0, time_embedding=False, base_width=16, temb_ch=128,
                 temb_hidden=512):
        super().__init__()
        assert (depth - 4) % 6 == 0
        n = (depth - 4) // 6
        widths = [base_width, base_width * widen_factor, 2 * base_width * widen_factor,
                  4 * base_width * widen_factor]
        self.temb_ch = temb_ch
        self.time_embedding = time_embedding
        td = temb_hidden if time_embedding else 0
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, padding=1)
        c = widths[0]
        for s, (w, stride) in enumerate(zip(widths[1:], (1, 2, 2))):
            blocks = []
            for i in range(n):
                blocks.append(WideBasic(c, w, stride if i == 0 else 1, norm, momentum, dropout, td))
                c = w
            setattr(self, 'layer%d' % (s + 1), nn.Sequential(*blocks))
        self.bn1 = make_norm(c, norm, momentum)
        self.last_dim = c
        self.linear = nn.Linear(c, num_classes)
        if time_embedding:
            self.temb_dense_0 = nn.Linear(temb_ch, temb_hidden)
            self.temb_dense_1 = nn.Linear(temb_hidden, temb_hidden)
            self.temb_dense_2 = nn.Linear(temb_hidden, c)

    def features(self, x, t=None):
        temb = None
        if self.time_embedding:
            temb = self.temb_dense_0(timestep_embedding(t, self.temb_ch, x.dtype))
            temb = self.temb_dense_1(F.leaky_relu(temb, LEAK))
        h = self.conv1(x)
        for layer in (self.layer1, self.layer2, self.layer3):
            for b in layer:
                h = b(h, temb)
        if self.bn1 is not None:
            h = self.bn1(h)
        h = F.avg_pool2d(F.leaky_relu(h, LEAK), 8).flatten(1)
        if self.time_embedding:
            h = h * self.temb_dense_2(F.leaky_relu(temb, LEAK))
        return h

    def forward(self, x, t=None):
        h = self.features(x, t)
        return h.sum(dim=1) if self.time_embedding else self.linear(h)


class Jem(nn.Module):
    """JEM's class F: f (the trunk), energy_output Linear(C, 1), class_output Linear(C, K).
    forward -> logits; energy = -logsumexp(logits)."""

    def __init__(self, **wrn):
        super().__init__()
        self.f = WideResNet(**wrn)
        self.energy_output = nn.Linear(self.f.last_dim, 1)
        self.class_output = nn.Linear(self.f.last_dim, wrn.get('num_classes', 10))

    def forward(self, x):
        return self.class_output(self.f.features(x))

    def energy(self, x):
        return -torch.logsumexp(self(x), dim=1)


def count_flops(model, *inputs):
    """2 x multiply-adds of every Conv2d / Linear forward (the engine's FlopCounter convention)."""
    total = [0]

    def hook(m, inp, out):
        if isinstance(m, nn.Conv2d):
            k = m.kernel_size[0] * m.kernel_size[1]
            total[0] += 2 * out.numel() * m.in_channels * k
        elif isinstance(m, nn.Linear):
            total[0] += 2 * out.numel() * m.in_features

    hs = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model(*inputs)
    for h in hs:
        h.remove()
    return total[0]
