# PyTorch replica of the IGEBM energy networks of nn/igebm_models.h (Du & Mordatch 2019,
# openai/ebm_code_release models.py; ../../../shared/specs/igebm-drl.md §1.3): ResNet32,
# ResNet32Large, ResNet32Wider and the small ResNet32, with the same parameter names and order as
# the C++ modules, so state_dicts line up tensor for tensor. Used by make_igebm_goldens.py.
#
# Spectral norm: torch.nn.utils.spectral_norm (weight_orig, weight_u, weight_v) on the stem,
# conv1 and the skip convs; CappedSNConv2d for conv2 of each block, IGEBM's "zero-init" layers:
# W/(σ+1e-6)·min(σ+1e-6, 1) with the same power iteration and buffer names.
import torch
import torch.nn as nn
import torch.nn.functional as F

NAMES = ("resnet32", "resnet32_large", "resnet32_wider", "resnet32_small")
LEAKY = 0.2  # TF's leaky_relu default


def architecture(name, in_channels=3, image_size=32, num_classes=-1, num_filters=0, dropout=-1.0):
    """The same resolution of a name and options as nn::igebm_architecture."""
    if name not in NAMES:
        raise ValueError(f"unknown model '{name}'; valid names: {', '.join(NAMES)}")
    large, wider = name == "resnet32_large", name == "resnet32_wider"
    f = num_filters if num_filters > 0 else (192 if wider else 32 if name == "resnet32_small" else 128)
    k = num_classes if num_classes >= 0 else (0 if large else 10)
    p = dropout if dropout >= 0 else (0.5 if large else 0.0)
    if large or wider:
        stem = 128 if wider else f
        blocks = [(stem, f, True, wider), (f, f, False, False), (f, f, False, False),
                  (f, 2 * f, True, True), (2 * f, 2 * f, False, False), (2 * f, 2 * f, False, False),
                  (2 * f, 4 * f, True, True), (4 * f, 4 * f, False, False), (4 * f, 4 * f, False, False)]
        head = "leaky_relu" if large and k > 0 else "relu"
    else:
        stem = f
        blocks = [(f, f, True, False), (f, f, False, False), (f, 2 * f, True, True),
                  (2 * f, 2 * f, False, False), (2 * f, 2 * f, True, False), (2 * f, 2 * f, False, False)]
        head = "relu"
    return dict(name=name, in_channels=in_channels, image_size=image_size, num_classes=k,
                stem_channels=stem, blocks=blocks, dropout=p, head=head)


def _normalize(x, eps=1e-12):
    return F.normalize(x, dim=0, eps=eps)


class CappedSNConv2d(nn.Module):
    """3×3 conv, no bias, with IGEBM's capped spectral norm; PyTorch's SN names and iteration."""

    def __init__(self, cin, cout, std=1e-10, eps=1e-12):
        super().__init__()
        self.eps = eps
        w = torch.empty(cout, cin, 3, 3)
        nn.init.normal_(w, 0.0, std)
        self.weight_orig = nn.Parameter(w)
        self.register_buffer("weight_u", _normalize(torch.randn(cout), eps))
        self.register_buffer("weight_v", _normalize(torch.randn(cin * 9), eps))

    def weight(self):
        wm = self.weight_orig.reshape(self.weight_orig.shape[0], -1)
        u, v = self.weight_u, self.weight_v
        if self.training:  # one power iteration, written back (as torch's spectral_norm)
            with torch.no_grad():
                v = _normalize(torch.mv(wm.t(), u), self.eps)
                u = _normalize(torch.mv(wm, v), self.eps)
                self.weight_v.copy_(v)
                self.weight_u.copy_(u)
            u, v = u.clone(), v.clone()
        sigma = torch.dot(u, torch.mv(wm, v)) + 1e-6
        return self.weight_orig / sigma * torch.clamp(sigma, max=1.0)

    def forward(self, x):
        return F.conv2d(x, self.weight(), None, 1, 1)


def sn_conv(cin, cout):
    conv = nn.Conv2d(cin, cout, 3, 1, 1, bias=False)
    nn.init.normal_(conv.weight, 0.0, 1.0)
    return nn.utils.spectral_norm(conv)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, downsample, adaptive, num_classes, dropout):
        super().__init__()
        vec = (lambda c: (num_classes, c)) if num_classes > 0 else (lambda c: (c,))
        self.num_classes, self.downsample = num_classes, downsample
        # Own parameters first, in the C++ registration order: gb1, gb2, g2, [cb2].
        self.gb1 = nn.Parameter(torch.zeros(vec(cin)))
        self.gb2 = nn.Parameter(torch.zeros(vec(cout)))
        self.g2 = nn.Parameter(torch.ones(vec(cout)))
        if num_classes > 0:
            self.cb2 = nn.Parameter(torch.zeros(cout))
        self.conv1 = sn_conv(cin, cout)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else None
        self.conv2 = CappedSNConv2d(cout, cout)
        self.skip = sn_conv(cin, cout) if adaptive else None

    def per_class(self, p, labels):
        return (p[labels] if self.num_classes > 0 else p[None]).reshape(-1, p.shape[-1], 1, 1)

    def forward(self, x, labels):
        h = self.conv1(x + self.per_class(self.gb1, labels))
        if self.dropout is not None:
            h = self.dropout(h)
        h = F.leaky_relu(h, LEAKY)
        gain = self.per_class(self.g2, labels)
        if self.num_classes > 0:
            gain = gain + self.cb2.reshape(1, -1, 1, 1)
        h = self.conv2(h + self.per_class(self.gb2, labels)) * gain
        r = h + (self.skip(x) if self.skip is not None else x)
        if self.downsample:
            r = F.avg_pool2d(r, 2, 2)
        return F.leaky_relu(r, LEAKY)


class IgebmResNet(nn.Module):
    def __init__(self, arch):
        super().__init__()
        self.arch = arch
        self.stem = sn_conv(arch["in_channels"], arch["stem_channels"])
        self.blocks = nn.ModuleList(
            ResBlock(cin, cout, down, adapt, arch["num_classes"], arch["dropout"])
            for cin, cout, down, adapt in arch["blocks"])
        self.fc = nn.Linear(arch["blocks"][-1][1], 1)
        nn.init.xavier_uniform_(self.fc.weight)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x, labels=None):
        h = F.leaky_relu(self.stem(x), LEAKY)
        for b in self.blocks:
            h = b(h, labels)
        h = F.relu(h) if self.arch["head"] == "relu" else F.leaky_relu(h, LEAKY)
        return self.fc(h.sum(dim=(2, 3))).reshape(-1)


def make_igebm_model(name, **options):
    return IgebmResNet(architecture(name, **options))


def conv_weight_count(model):
    return sum(p.numel() for n, p in model.named_parameters() if n.endswith("weight_orig"))


def forward_flops(model, x, labels=None):
    """2·MACs of the convs and the linear layer in one forward (nn::FlopCounter's convention)."""
    total = [0]

    def conv_hook(m, inp, out):
        cin = inp[0].shape[1]
        total[0] += 2 * out.numel() * cin * 9

    def linear_hook(m, inp, out):
        total[0] += 2 * out.numel() * m.in_features

    hooks = []
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, CappedSNConv2d)):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(linear_hook))
    with torch.no_grad():
        model(x, labels)
    for h in hooks:
        h.remove()
    return total[0]
