"""Writes the PyTorch goldens of tests/cpu/test_drl_models.cpp and test_wrn_models.cpp (and the GPU
twin tests/cuda/test_drl_models_cuda.cpp) into tests/data/models/, using the replicas of
drl_models.py. Run from anywhere with Debian's torch and the safetensors package:
    /usr/bin/python3 tests/reference/make_drl_goldens.py

Per small network <net> (net_res_temb2_small, wrn_small time-conditioned, JEM wrn_small without
and with BatchNorm):
  <net>_weights.safetensors  the float32 state_dict (parameters randomised around the init so that
                             every path matters: capped SN on both sides of sigma' = 1, BN running
                             statistics away from 0/1); metadata "golden" = JSON with the config,
                             the state_dict order, the small net's parameter count and FLOPs, and
                             the full-size networks' counts, FLOPs and state_dict order.
  <net>_<mode>.safetensors   a forward in eval or train mode from those weights: inputs x (and t),
                             loss weights w, outputs, grad_x = d sum(out)/dx, and grad.<param> =
                             d sum(out * w)/d param for every parameter (JEM: out = logits,
                             grad_x = d sum(energy)/dx, energy = -logsumexp(logits)); train mode also holds
                             after.<buffer> (SN u/v after one power iteration, BN running stats).
Outputs and gradients are computed in float64 from the float32 weights and inputs (so the golden
carries no float32 rounding of its own) and stored as float32. Each file stays below ~300 KB.
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import drl_models as dm  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "models")
os.makedirs(OUT, exist_ok=True)


def param_count(m):
    return sum(p.numel() for p in m.parameters())


def full_figures(make, *inputs):
    m = make().eval()
    return {"params": param_count(m), "flops": dm.count_flops(m, *inputs),
            "state_dict": list(m.state_dict().keys())}


def randomise_(model, gen):
    """Moves parameters and BN statistics away from their init so every term of the network is
    exercised; conv2 weights of DRL blocks alternate between sigma' > 1 and < 1."""
    with torch.no_grad():
        k = 0
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            elif name.endswith(".g"):
                p.copy_(torch.empty(p.shape).uniform_(0.5, 1.5, generator=gen))
            elif name.endswith("bn1.weight") or name.endswith("bn2.weight"):
                p.copy_(torch.empty(p.shape).uniform_(0.5, 1.5, generator=gen))
            elif "conv2.weight_orig" in name:  # DRL's capped conv2: scale so sigma' straddles 1
                fan = p[0].numel()
                scale = (3.0 if k % 2 == 0 else 0.3) / fan ** 0.5
                p.copy_(scale * torch.randn(p.shape, generator=gen))
                k += 1
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(0.2 * torch.randn(b.shape, generator=gen))
            elif name.endswith("running_var"):
                b.copy_(torch.empty(b.shape).uniform_(0.5, 2.0, generator=gen))


def warm_up_sn_(model, inputs, steps=2):
    """A few training-mode forwards so the SN u/v are near their fixed point, as in a trained net."""
    if not any(n.endswith("weight_u") for n, _ in model.named_buffers()):
        return
    bn_state = {n: b.clone() for n, b in model.named_buffers() if "running" in n or "num_batches" in n}
    model.train()
    with torch.no_grad():
        for _ in range(steps):
            model(*inputs)
    with torch.no_grad():
        for n, b in model.named_buffers():
            if n in bn_state:
                b.copy_(bn_state[n])


def report_capped(model):
    for name, m in model.named_modules():
        if isinstance(m, dm.CappedSNConv2d):
            wm = m.weight_orig.reshape(m.weight_orig.shape[0], -1)
            s = torch.dot(m.weight_u, torch.mv(wm, m.weight_v)).item() + 1e-6
            print("   %s: sigma' = %.4f (%s)" % (name, s, "capped" if s > 1 else "raw W"))


def run_case(model, call, inputs, w, mode, weights_f32):
    """Forward in float64 from the float32 state; returns the tensors of the case file."""
    m64 = model.double()
    m64.load_state_dict({k: v.double() if v.is_floating_point() else v for k, v in weights_f32.items()})
    m64.train(mode == "train")
    x = inputs[0].double().requires_grad_(True)
    rest = list(inputs[1:])
    outs = call(m64, x, *rest)  # dict name -> tensor; "out" is what w weighs
    out = outs["out"]
    (gx,) = torch.autograd.grad(outs.get("energy", out).sum(), [x], retain_graph=True)
    m64.zero_grad()
    (out * w.double()).sum().backward()
    case = {"x": inputs[0], "w": w, "grad_x": gx.float()}
    if rest:
        case["t"] = rest[0]
    for k, v in outs.items():
        case[k] = v.detach().float()
    for name, p in m64.named_parameters():
        if p.grad is not None:  # None: unused by this forward (the TE WRN's `linear`)
            case["grad." + name] = p.grad.float()
    if mode == "train":
        for name, b in m64.named_buffers():
            if name.endswith(("weight_u", "weight_v", "running_mean", "running_var", "num_batches_tracked")):
                case["after." + name] = b.float() if b.is_floating_point() else b.clone()
    return case


def save(name, tensors, meta=None):
    path = os.path.join(OUT, name + ".safetensors")
    tensors = {k: v.contiguous() for k, v in tensors.items()}
    save_file(tensors, path, metadata={"golden": json.dumps(meta, sort_keys=True)} if meta else None)
    print("  %-40s %7.1f KB" % (name, os.path.getsize(path) / 1024))
    assert os.path.getsize(path) < 310 * 1024, name


def make_net(tag, model, call, inputs, w, modes, config, full):
    gen = torch.Generator().manual_seed(1234)
    randomise_(model, gen)
    warm_up_sn_(model, inputs)
    model.float().eval()
    report_capped(model)
    weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
    flops_inputs = [torch.zeros(1, *inputs[0].shape[1:])] + [r[:1] for r in inputs[1:]]
    meta = {"config": config, "state_dict": list(weights.keys()), "params": param_count(model),
            "flops_1": dm.count_flops(model.eval(), *flops_inputs), "full": full}
    save(tag + "_weights", weights, meta)
    for mode in modes:
        save(tag + "_" + mode, run_case(model, call, inputs, w, mode, weights))


def main():
    torch.manual_seed(0)
    t64 = torch.int64

    # ---- DRL net_res_temb2_small (ch 16, ch_mult (1,2,2), 1 block), N = 3 at 16x16
    print("net_res_temb2_small")
    y = torch.randn(3, 3, 16, 16)
    t = torch.tensor([0, 3, 5], dtype=t64)
    w = torch.tensor([1.0, -0.5, 2.0])
    full = {
        "net_res_temb2_nb2": full_figures(lambda: dm.NetResTemb2(num_res_blocks=2),
                                          torch.zeros(1, 3, 32, 32), torch.zeros(1, dtype=t64)),
        "net_res_temb2_nb8": full_figures(lambda: dm.NetResTemb2(num_res_blocks=8),
                                          torch.zeros(1, 3, 32, 32), torch.zeros(1, dtype=t64)),
    }
    del full["net_res_temb2_nb8"]["state_dict"]  # the nb2 order covers the naming; keep the file small
    make_net("drl_net_res_temb2_small", dm.NetResTemb2(ch=16, ch_mult=(1, 2, 2), num_res_blocks=1),
             lambda m, x, t: {"out": m(x, t)}, [y, t], w, ["eval", "train"],
             {"ch": 16, "ch_mult": [1, 2, 2], "num_res_blocks": 1, "num_timesteps": 6}, full)

    # ---- WRN small, DRL port (time-conditioned, no norm), N = 2 at 32x32
    small = dict(depth=10, widen_factor=1, base_width=8, temb_ch=32, temb_hidden=64)
    print("wrn_small (time-conditioned)")
    x = torch.randn(2, 3, 32, 32)
    t = torch.tensor([1, 4], dtype=t64)
    w2 = torch.tensor([1.5, -1.0])
    full = {"wrn28_10_te": full_figures(lambda: dm.WideResNet(time_embedding=True),
                                        torch.zeros(1, 3, 32, 32), torch.zeros(1, dtype=t64))}
    make_net("wrn_small_te", dm.WideResNet(time_embedding=True, **small),
             lambda m, x, t: {"out": m(x, t)}, [x, t], w2, ["eval"],
             dict(small, time_embedding=True, norm="none"), full)

    # ---- JEM (class F) on the small trunk: no norm (JEM's default) and BatchNorm (M-EBM)
    def jem_call(m, x):  # one trunk forward for both heads (train mode: one BN update)
        h = m.f.features(x)
        logits = m.class_output(h)
        return {"out": logits, "energy": -torch.logsumexp(logits, dim=1),
                "uncond_f": m.energy_output(h).squeeze(1)}

    wk = torch.linspace(-1.0, 1.0, 10).repeat(2, 1)
    for norm in (None, "batch"):
        tag = "wrn_small_jem" + ("_bn" if norm else "")
        print(tag)
        full = {"wrn28_10_jem": full_figures(lambda: dm.Jem(norm=norm), torch.zeros(1, 3, 32, 32))}
        make_net(tag, dm.Jem(norm=norm, **small), jem_call, [x], wk,
                 ["eval", "train"] if norm else ["eval"],
                 dict(small, time_embedding=False, norm=norm or "none"), full)


if __name__ == "__main__":
    main()
