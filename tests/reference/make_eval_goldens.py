"""Writes the goldens of tests/cpu/test_eval_metrics.cpp, test_eval_ops.cpp and test_inception.cpp
into tests/data/eval/. Run with Debian's interpreter (python3-torch, python3-scipy, python3-mpmath (scipy's
dependency) and the safetensors package: scripts/install-deps.sh --torch):
    /usr/bin/python3 tests/reference/make_eval_goldens.py

Files (every tensor float64 unless stated):
  metrics_goldens.safetensors
    sqrtm.<case>.a / .real / .imag     scipy.linalg.sqrtm of fixed matrices: "spd_product" (S1 S2
                                       of two SPD 12x12), "complex" (a 6x6 with a negative eigenvalue, so its root is complex),
                                       "identity_like" (diagonal with repeated eigenvalues)
    fid.<case>.f1 / .f2                features; .mu1 .sigma1 .mu2 .sigma2 = np.mean / np.cov
                                       (float64); .fid = pytorch-fid's calculate_frechet_distance
                                       (scipy sqrtm, eps offset when not finite, real part) on
                                       them; .fid_exact = the same to 40 digits (mpmath, through
                                       symmetric eigenvalues); cases "full" (N=300 > d=16) and
                                       "singular" (N=12 < d=20)
    is.logits [60, 7], is.mean_std [2]  Inception Score, 10 splits, torch-fidelity's formula
                                       without its shuffle (softmax in float64, np.std)
    auroc.<case>.pos / .neg / .value   scores with many ties; value by the Mann-Whitney U of
                                       scipy.stats and checked against the trapezoidal ROC area
                                       (sklearn's roc_auc_score method, written out in numpy)
    kid.x / kid.y [25, 6], kid.mmd2    torch-fidelity's unbiased polynomial MMD^2 of one subset
  ops_goldens.safetensors
    resize.<case>.x / .y / .w / .grad   F.interpolate(x, size, mode='bilinear',
                                       align_corners=False); grad = d sum(y * w) / dx
    maxpool.<case>.x / .y / .w / .grad  F.max_pool2d with ties in x
  fid_inception_names.json             the full-size replica's state_dict: [[name, shape], ...]
  fid_inception_div16_weights.safetensors   float32 random weights of the width/16 replica
                                       (BN statistics calibrated on random images, so activations
                                       stay O(1) through all 94 layers)
  fid_inception_div16_golden.safetensors    x [2, 3, 32, 32] float32 in [0, 1] and the replica's
                                       forward_blocks outputs, computed in float64 from the
                                       float32 weights and input: pool3 and logits float64,
                                       Mixed_5d, Mixed_6e, Mixed_7c rounded to float32
Re-running with the same torch / numpy / scipy rewrites identical files.
"""
import json
import os
import sys

import mpmath
import numpy as np
import scipy.linalg
import scipy.stats
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fid_inception  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "eval")
os.makedirs(OUT, exist_ok=True)


def t64(a):
    return torch.from_numpy(np.ascontiguousarray(np.asarray(a, dtype=np.float64)))


def pytorch_fid_distance(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """pytorch-fid's calculate_frechet_distance, step by step."""
    diff = mu1 - mu2
    covmean, _ = scipy.linalg.sqrtm(sigma1.dot(sigma2), disp=False)
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = scipy.linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError("Imaginary component")
        covmean = covmean.real
    return diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean)


def exact_fid(mu1, sigma1, mu2, sigma2):
    """The Fréchet distance of these float64 statistics to 40 digits (mpmath): tr sqrt(S1 S2) as
    the sum of square roots of the eigenvalues of sqrt(S1) S2 sqrt(S1)."""
    mpmath.mp.dps = 40
    s1, s2 = mpmath.matrix(sigma1.tolist()), mpmath.matrix(sigma2.tolist())
    ev, q = mpmath.eigsy(s1)
    root = q * mpmath.diag([mpmath.sqrt(max(e, 0)) for e in ev]) * q.T
    ev2, _ = mpmath.eigsy(root * s2 * root)
    tr = sum(mpmath.sqrt(max(e, 0)) for e in ev2)
    diff = mpmath.matrix((mu1 - mu2).tolist())
    value = (diff.T * diff)[0] + sum(s1[i, i] + s2[i, i] for i in range(s1.rows)) - 2 * tr
    return float(value)


def metrics_goldens():
    rng = np.random.RandomState(7)
    g = {}
    # sqrtm
    a1 = rng.randn(12, 12)
    a2 = rng.randn(12, 12)
    s1 = a1 @ a1.T / 12 + 0.1 * np.eye(12)
    s2 = a2 @ a2.T / 12 + 0.1 * np.eye(12)
    q = rng.randn(6, 6)
    cases = {
        "spd_product": s1 @ s2,
        "complex": q @ np.diag([-2.0, 1.0, 3.0, 0.5, 4.0, 2.0]) @ np.linalg.inv(q),
        "identity_like": np.diag([4.0, 4.0, 1.0, 9.0, 9.0]),
    }
    for name, a in cases.items():
        r = scipy.linalg.sqrtm(a)
        r = np.asarray(r, dtype=np.complex128)
        g[f"sqrtm.{name}.a"] = t64(a)
        g[f"sqrtm.{name}.real"] = t64(r.real)
        g[f"sqrtm.{name}.imag"] = t64(r.imag)
    assert np.abs(scipy.linalg.sqrtm(cases["complex"]).imag).max() > 1e-3  # a truly complex root
    # FID, from features
    for name, (n, d) in {"full": (300, 16), "singular": (12, 20)}.items():
        mix = rng.randn(d, d) / np.sqrt(d)
        f1 = rng.randn(n, d) @ mix + 0.5
        f2 = (rng.randn(n, d) * 1.3) @ mix + 0.2 * rng.randn(d) + 0.5
        mu1, mu2 = f1.mean(0), f2.mean(0)
        sg1, sg2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
        g[f"fid.{name}.f1"] = t64(f1)
        g[f"fid.{name}.f2"] = t64(f2)
        g[f"fid.{name}.mu1"], g[f"fid.{name}.sigma1"] = t64(mu1), t64(sg1)
        g[f"fid.{name}.mu2"], g[f"fid.{name}.sigma2"] = t64(mu2), t64(sg2)
        g[f"fid.{name}.fid"] = t64([pytorch_fid_distance(mu1, sg1, mu2, sg2)])
        g[f"fid.{name}.fid_exact"] = t64([exact_fid(mu1, sg1, mu2, sg2)])
    # Inception Score (torch-fidelity's isc_features_to_metric without the shuffle)
    logits = torch.from_numpy(rng.randn(60, 7) * 2.0)
    p = logits.double().softmax(dim=1)
    log_p = logits.double().log_softmax(dim=1)
    scores = []
    for i in range(10):
        pc = p[i * 60 // 10:(i + 1) * 60 // 10]
        lc = log_p[i * 60 // 10:(i + 1) * 60 // 10]
        q = pc.mean(dim=0, keepdim=True)
        scores.append((pc * (lc - q.log())).sum(dim=1).mean().exp().item())
    g["is.logits"] = logits.double()
    g["is.mean_std"] = t64([np.mean(scores), np.std(scores)])
    # AUROC with ties
    for name, (npos, nneg, levels) in {"ties": (40, 55, 6), "few": (3, 4, 3)}.items():
        pos = rng.randint(0, levels, npos).astype(np.float64) + 0.5
        neg = rng.randint(0, levels, nneg).astype(np.float64)
        neg[::3] += 0.5  # some negatives tie with positives
        u = scipy.stats.mannwhitneyu(pos, neg, alternative="two-sided").statistic
        value = u / (npos * nneg)
        # sklearn's method: ROC points at each distinct threshold, trapezoidal area.
        scores_all = np.concatenate([pos, neg])
        labels = np.concatenate([np.ones(npos), np.zeros(nneg)])
        thr = np.unique(scores_all)[::-1]
        tpr = [0.0] + [((scores_all >= t) & (labels == 1)).sum() / npos for t in thr]
        fpr = [0.0] + [((scores_all >= t) & (labels == 0)).sum() / nneg for t in thr]
        assert abs(np.trapz(tpr, fpr) - value) < 1e-12
        g[f"auroc.{name}.pos"], g[f"auroc.{name}.neg"] = t64(pos), t64(neg)
        g[f"auroc.{name}.value"] = t64([value])
    # KID: one subset's unbiased MMD^2 (torch-fidelity's mmd2 with degree 3, gamma 1/d, coef0 1)
    x = rng.rand(25, 6)
    y = rng.rand(25, 6) * 1.1
    m, d = 25, 6
    a = (x @ x.T / d + 1) ** 3 + (y @ y.T / d + 1) ** 3
    b = (x @ y.T / d + 1) ** 3
    mmd2 = (a.sum() - np.diag(a).sum()) / (m * (m - 1)) - b.sum() * 2 / (m * m)
    g["kid.x"], g["kid.y"], g["kid.mmd2"] = t64(x), t64(y), t64([mmd2])
    save_file(g, os.path.join(OUT, "metrics_goldens.safetensors"))


def ops_goldens():
    torch.manual_seed(11)
    g = {}
    resize_cases = {
        "up_odd": ((2, 3, 5, 7), (9, 11)),
        "down": ((1, 2, 13, 11), (5, 4)),
        "same": ((1, 1, 4, 6), (4, 6)),
        "cifar_to_299_rows": ((1, 1, 32, 3), (299, 5)),
        "mixed": ((1, 2, 7, 6), (3, 17)),
    }
    for name, (xs, size) in resize_cases.items():
        x = torch.rand(xs, dtype=torch.float64, requires_grad=True)
        y = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        w = torch.randn(y.shape, dtype=torch.float64)
        (gx,) = torch.autograd.grad((y * w).sum(), x)
        for k, v in {"x": x, "y": y, "w": w, "grad": gx}.items():
            g[f"resize.{name}.{k}"] = v.detach().contiguous()
    pool_cases = {"k3s2": (3, 2, 0), "k3s1p1": (3, 1, 1), "k2s2": (2, 2, 0), "k3s2p1": (3, 2, 1)}
    for name, (k, s, p) in pool_cases.items():
        x = torch.randint(0, 4, (2, 2, 7, 8)).double().requires_grad_(True)  # many ties
        y = F.max_pool2d(x, k, stride=s, padding=p)
        w = torch.randn(y.shape, dtype=torch.float64)
        (gx,) = torch.autograd.grad((y * w).sum(), x)
        for key, v in {"x": x, "y": y, "w": w, "grad": gx}.items():
            g[f"maxpool.{name}.{key}"] = v.detach().contiguous()
    save_file(g, os.path.join(OUT, "ops_goldens.safetensors"))


def randomise_inception(model, gen):
    """Random weights with BN statistics calibrated on random images (see the module docstring)."""
    with torch.no_grad():
        for name, mod in model.named_modules():
            if isinstance(mod, torch.nn.Conv2d):
                fan_in = mod.weight[0].numel()
                mod.weight.copy_(torch.randn(mod.weight.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
            elif isinstance(mod, torch.nn.BatchNorm2d):
                # gamma in [0.5, 1.5], beta in [0.3, 0.8]: about 30 % of the units clipped by
                # the ReLU. With betas around 0, a random BN network amplifies rounding enough
                # that PyTorch's own float32 forward is 1.6e-4 off its float64 one at Mixed_7c;
                # here it stays within 1.3e-5 at every checked block.
                mod.weight.copy_(0.5 + torch.rand(mod.weight.shape, generator=gen))
                mod.bias.copy_(0.3 + 0.5 * torch.rand(mod.bias.shape, generator=gen))
                mod.momentum = None  # cumulative average over the calibration batches
                mod.reset_running_stats()
            elif isinstance(mod, torch.nn.Linear):
                fan_in = mod.weight.shape[1]
                mod.weight.copy_(torch.randn(mod.weight.shape, generator=gen) / fan_in ** 0.5)
                mod.bias.copy_(0.1 * torch.randn(mod.bias.shape, generator=gen))
        model.train()
        for _ in range(2):
            model.forward_blocks(torch.rand((8, 3, 32, 32), generator=gen))
        model.eval()
        for mod in model.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.momentum = 0.1


def inception_goldens():
    full = fid_inception.FidInceptionV3(div=1)
    names = [[k, list(v.shape)] for k, v in full.state_dict().items()]
    with open(os.path.join(OUT, "fid_inception_names.json"), "w") as f:  # one entry a line
        f.write('{"num_parameters": %d,\n "state_dict": [\n' % sum(p.numel() for p in full.parameters()))
        f.write(",\n".join("  " + json.dumps(e) for e in names))
        f.write("\n]}\n")
    gen = torch.Generator().manual_seed(2015)
    small = fid_inception.FidInceptionV3(div=16)
    randomise_inception(small, gen)
    sd = {k: v.detach().clone().contiguous() for k, v in small.state_dict().items()}
    save_file(sd, os.path.join(OUT, "fid_inception_div16_weights.safetensors"),
              metadata={"replica": "tests/reference/fid_inception.py", "width_divisor": "16"})
    x = torch.rand((2, 3, 32, 32), generator=gen)
    ref = small.double().eval()
    with torch.no_grad():
        out = ref.forward_blocks(x.double())
    golden = {"x": x.contiguous()}
    for k in ("Mixed_5d", "Mixed_6e", "Mixed_7c"):  # intermediates as float32: half the bytes
        golden[k] = out[k].float().contiguous()
    for k in ("pool3", "logits"):
        golden[k] = out[k].contiguous()
    save_file(golden, os.path.join(OUT, "fid_inception_div16_golden.safetensors"))
    for k in ("Mixed_7c", "pool3", "logits"):
        v = out[k]
        print(f"  {k}: shape {list(v.shape)} mean {v.mean().item():.4f} std {v.std().item():.4f}")


if __name__ == "__main__":
    metrics_goldens()
    ops_goldens()
    inception_goldens()
    for f in sorted(os.listdir(OUT)):
        print(f, os.path.getsize(os.path.join(OUT, f)), "bytes")
