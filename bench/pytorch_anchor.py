#!/usr/bin/env python3
"""PyTorch anchor for the pretraining-step benchmark (bench/dense.bench.ts).

Times one Uni-Code pretraining step (AVT, docs/algorithm.md §2-§5) written directly in PyTorch from
the spec, with the widths of src/model/config.ts ('small' and 'paper'), so the TypeScript step
can be compared with what PyTorch does on the same CPU. Written for timing: the step computes
every loss, gradient and update the spec lists, but nothing checks its numbers.

Prints one JSON object: {"config", "dtype", "batch", "device", "tf32", "threads", "steps", "stepMs": [...], "medianMs"}.
--device cuda runs it on the GPU (the device check, bench/cudaDeviceCheck.ts), --tf32 on|off sets
torch's TF32 switches for matmuls and cuDNN convolutions.
Needs torch (Debian: apt-get install python3-torch).
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# Mirrors NAMED_CONFIGS in src/model/config.ts.
CONFIGS = {
    "paper": dict(D=256, M=400, audio=128, text=256, C=512, grid=7, heads=4, ff=1024,
                  widths=(1024, 2048), specific=256, club=256, cpc=256),
    "small": dict(D=64, M=96, audio=32, text=32, C=32, grid=7, heads=4, ff=128,
                  widths=(64, 128), specific=64, club=64, cpc=64),
}
T = 10
BETA, DECAY, EPS = 0.25, 0.99, 1e-5


class SemanticEncoder(nn.Module):
    """Linear to D, then two post-norm transformer layers over T."""

    def __init__(self, dim, cfg):
        super().__init__()
        self.proj = nn.Linear(dim, cfg["D"])
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(cfg["D"], cfg["heads"], cfg["ff"], 0.1, batch_first=True)
            for _ in range(2))

    def forward(self, x):
        h = self.proj(x)
        for layer in self.layers:
            h = layer(h)
        return h


class AttentionPool(nn.Module):
    """The video front of docs/algorithm.md §2: squeeze-excitation, then attention over the grid."""

    def __init__(self, c):
        super().__init__()
        self.squeeze = nn.Linear(c, c // 8, bias=False)
        self.excite = nn.Linear(c // 8, c, bias=False)
        self.query = nn.Linear(c, c // 2)
        self.key = nn.Linear(c, c // 2)
        self.score = nn.Linear(c // 2, 1)

    def forward(self, video):  # [B, T, H, W, C] -> [B, T, C]
        b, t, h, w, c = video.shape
        cells = video.reshape(b * t, h * w, c)
        mean = cells.mean(1)
        gate = torch.sigmoid(self.excite(F.relu(self.squeeze(mean))))
        weighted = cells * gate[:, None] + cells
        query = F.relu(self.query(mean))
        keys = F.relu(self.key(weighted))
        scores = torch.tanh(self.score(keys * query[:, None])).softmax(1)
        return (scores * weighted).sum(1).reshape(b, t, c)


class Residual(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv3 = nn.Conv2d(ch, ch, 3, padding=1)
        self.conv1 = nn.Conv2d(ch, ch, 1)

    def forward(self, x):
        return F.relu(x + self.conv1(F.relu(self.conv3(F.relu(x)))))


class VideoSpecific(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        c, (w1, w2) = cfg["C"], cfg["widths"]
        self.conv1 = nn.Conv2d(c, w1, 3)
        self.conv2 = nn.Conv2d(w1, w2, 3)
        self.conv3 = nn.Conv2d(w2, w2, 1)
        self.residual = Residual(w2)
        self.club_feature = nn.Sequential(nn.Linear(w2, w1), nn.ReLU(), nn.Linear(w1, c))

    def forward(self, video):  # -> psi [B*T, w2, 3, 3], CLUB feature [B, T, C]
        b, t, h, w, c = video.shape
        grid = video.reshape(b * t, h, w, c).permute(0, 3, 1, 2)
        psi = self.residual(self.conv3(F.relu(self.conv2(F.relu(self.conv1(grid))))))
        return psi, self.club_feature(psi.mean((2, 3))).reshape(b, t, c)


class VideoDecoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, c, (w1, w2) = cfg["D"], cfg["C"], cfg["widths"]
        self.code = nn.Linear(d, d)
        self.up1 = nn.ConvTranspose2d(w2 + d, w1, 3)
        self.residual = Residual(w1)
        self.up2 = nn.ConvTranspose2d(w1, c, 3)
        self.out = nn.ConvTranspose2d(c, c, 1)

    def forward(self, psi, code):  # psi [B*T, w2, g, g], code [B, T, D] -> [B, T, H, W, C]
        b, t, d = code.shape
        n, _, gh, gw = psi.shape
        tiled = self.code(code).reshape(n, d, 1, 1).expand(n, d, gh, gw)
        x = self.out(F.relu(self.up2(self.residual(self.up1(torch.cat([psi, tiled], 1))))))
        return x.permute(0, 2, 3, 1).reshape(b, t, x.shape[2], x.shape[3], x.shape[1])


class DenseDecoder(nn.Module):
    def __init__(self, cfg, dim):
        super().__init__()
        self.code = nn.Linear(cfg["D"], cfg["specific"])
        self.out = nn.Linear(2 * cfg["specific"], dim)

    def forward(self, psi, code):
        return self.out(torch.cat([psi, self.code(code)], -1))


def mlp(dims, tanh_out=False):
    layers = []
    for i in range(len(dims) - 1):
        layers.append(nn.Linear(dims[i], dims[i + 1]))
        if i < len(dims) - 2:
            layers.append(nn.ReLU())
    if tanh_out:
        layers.append(nn.Tanh())
    return nn.Sequential(*layers)


class Club(nn.Module):
    """Diagonal-Gaussian q(y|x) with MLP mean and log-variance (docs/algorithm.md §4.1)."""

    def __init__(self, x_dim, y_dim, hidden):
        super().__init__()
        dims = [x_dim, hidden // 2, hidden // 2, hidden // 2, y_dim]
        self.mu = mlp(dims)
        self.logvar = mlp(dims, tanh_out=True)

    def loglik(self, x, y):
        mu, logvar = self.mu(x), self.logvar(x)
        return ((-(mu - y) ** 2 / logvar.exp() - logvar).sum(-1) / 2).mean()

    def mi(self, x, y):  # x, y: [B, T, dim]
        mu, logvar = self.mu(x), self.logvar(x)
        var = logvar.mean(1).exp()
        pos = -((mu - y) ** 2).mean(1) / var
        neg = -((mu - y[torch.randperm(y.shape[0])]) ** 2).mean(1) / var
        return (pos.sum(-1) - neg.sum(-1)).mean() / 2


class Cpc(nn.Module):
    def __init__(self, d, hidden):
        super().__init__()
        self.lstm = nn.LSTM(d, hidden, num_layers=2, batch_first=True)
        self.predict = nn.Linear(hidden, d)

    def forward(self, z, t):
        out, _ = self.lstm(z[:, : t + 1])
        return self.predict(out[:, -1])


class UniCode(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, m = cfg["D"], cfg["M"]
        self.semantic = nn.ModuleDict(dict(
            audio=SemanticEncoder(cfg["audio"], cfg), text=SemanticEncoder(cfg["text"], cfg),
            video=SemanticEncoder(cfg["C"], cfg)))
        self.pool = AttentionPool(cfg["C"])
        self.specific = nn.ModuleDict(dict(
            audio=nn.Linear(cfg["audio"], cfg["specific"]),
            text=nn.Linear(cfg["text"], cfg["specific"]), video=VideoSpecific(cfg)))
        self.decoder = nn.ModuleDict(dict(
            audio=DenseDecoder(cfg, cfg["audio"]), text=DenseDecoder(cfg, cfg["text"]),
            video=VideoDecoder(cfg)))
        self.cpc = nn.ModuleDict({k: Cpc(d, cfg["cpc"]) for k in ("audio", "video", "text")})
        emb = torch.empty(m, d).uniform_(-1 / m, 1 / m)
        self.register_buffer("embedding", emb)
        self.register_buffer("ema_weight", emb.clone())
        self.register_buffer("ema_count", torch.zeros(m))
        self.register_buffer("unused", torch.full((m,), -1, dtype=torch.long))


def quantize(z, embedding):
    flat = z.reshape(-1, z.shape[-1])
    dist = (flat ** 2).sum(1, keepdim=True) + (embedding ** 2).sum(1) - 2 * flat @ embedding.t()
    idx = dist.argmin(1)
    return idx, embedding[idx].reshape(z.shape)


def code_matching(zs, embedding):
    probs = []
    for z in zs:
        flat = z.reshape(-1, z.shape[-1])
        d = ((flat ** 2).sum(1, keepdim=True) + (embedding ** 2).sum(1)
             - 2 * flat @ embedding.t()).clamp_min(0)
        probs.append(F.softmax(-d.sqrt(), -1).reshape(z.shape[0], z.shape[1], -1).mean(1))
    loss = 0
    for i in range(len(probs)):
        for j in range(i + 1, len(probs)):
            s = probs[i] @ (probs[j] + 1e-10).log().t() + probs[j] @ (probs[i] + 1e-10).log().t()
            loss = loss + F.cross_entropy(s, torch.arange(s.shape[0]))
    return 0.5 * loss


@torch.no_grad()
def mm_ema(model, zs, idxs):
    m, k = model.embedding.shape[0], len(zs)
    flats = [z.reshape(-1, z.shape[-1]) for z in zs]
    for own, idx in enumerate(idxs):
        counts = torch.bincount(idx, minlength=m).to(model.ema_count.dtype)
        model.ema_count.mul_(DECAY).add_((1 - DECAY) * counts)
        n = model.ema_count.sum()
        model.ema_count.copy_((model.ema_count + EPS) / (n + m * EPS) * n)
        mixed = sum((0.5 if o == own else 0.5 / (k - 1)) * flats[o] for o in range(k))
        dw = torch.zeros_like(model.ema_weight).index_add_(0, idx, mixed)
        model.ema_weight.mul_(DECAY).add_((1 - DECAY) * dw)
        model.embedding.copy_(model.ema_weight / model.ema_count[:, None])
    model.unused.add_(1)
    model.unused[torch.cat(idxs)] = 0
    dead = (model.unused > 300).nonzero().flatten()
    active = ((model.unused >= 0) & (model.unused < 100)).nonzero().flatten()
    if len(dead) and len(active):
        src = active[torch.randint(len(active), (len(dead),))]
        noise = torch.empty(len(dead), model.embedding.shape[1]).uniform_(-1 / 1024, 1 / 1024)
        model.embedding[dead] = model.embedding[src] + noise.to(model.embedding.dtype)
        model.unused[dead] = 0


def make_step(cfg, batch):
    model = UniCode(cfg)
    clubs = dict(audio=Club(cfg["D"], cfg["specific"], cfg["club"]),
                 text=Club(cfg["D"], cfg["specific"], cfg["club"]),
                 video=Club(cfg["D"], cfg["C"], cfg["club"]))
    club_opts = {k: torch.optim.Adam(c.parameters(), lr=1e-3) for k, c in clubs.items()}
    opt = torch.optim.Adam(model.parameters(), lr=4e-4)
    groups = [list(g.parameters()) for g in (*model.semantic.values(), model.pool,
                                              *model.specific.values(), *model.decoder.values(),
                                              *model.cpc.values())]
    inputs = dict(audio=torch.randn(batch, T, cfg["audio"]), text=torch.randn(batch, T, cfg["text"]),
                  video=torch.randn(batch, T, cfg["grid"], cfg["grid"], cfg["C"]))
    mods = ("audio", "video", "text")

    def encode():
        z = dict(audio=model.semantic["audio"](inputs["audio"]),
                 text=model.semantic["text"](inputs["text"]),
                 video=model.semantic["video"](model.pool(inputs["video"])))
        psi, club_y = {}, {}
        for m in mods:
            if m == "video":
                psi[m], club_y[m] = model.specific["video"](inputs["video"])
            else:
                psi[m] = club_y[m] = F.relu(model.specific[m](inputs[m]))
        return z, psi, club_y

    def step():
        # As src/train/trainer.ts does: the CLUB nets first train on a forward without gradients.
        with torch.no_grad():
            z, _, club_y = encode()
            pairs = {m: (quantize(z[m], model.embedding)[1], club_y[m]) for m in mods}
        for _ in range(5):
            for m in mods:
                club_opts[m].zero_grad()
                (-clubs[m].loglik(*pairs[m])).backward()
                club_opts[m].step()
        z, psi, club_y = encode()
        idx, q = {}, {}
        for m in mods:
            idx[m], q[m] = quantize(z[m].detach(), model.embedding)
        loss = 0
        for m in mods:
            loss = loss + BETA * 2 * F.mse_loss(z[m], q[m])
            loss = loss + sum(BETA / 2 * F.mse_loss(z[m], q[o]) for o in mods if o != m)
        loss = loss + code_matching([z[m] for m in mods], model.embedding)
        st = {m: z[m] + (q[m] - z[m]).detach() for m in mods}
        for m in mods:
            loss = loss + F.mse_loss(model.decoder[m](psi[m], st[m]), inputs[m])
            loss = loss + clubs[m].mi(st[m], club_y[m])
        t = int(torch.randint(1, T - 1, ()))
        preds = {m: model.cpc[m](z[m], t) for m in mods}
        cpc = 0
        for m in mods:
            for n in mods:
                s = z[m][:, t + 1] @ preds[n].t()
                cpc = cpc + (1.0 if m != n else 0.1) * -s.log_softmax(1).diagonal().sum()
        loss = loss + cpc / batch
        opt.zero_grad()
        loss.backward()
        for g in groups:
            nn.utils.clip_grad_norm_(g, 0.5)
        opt.step()
        mm_ema(model, [z[m].detach() for m in mods], [idx[m] for m in mods])
        return float(loss)

    return model, clubs, inputs, step


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=sorted(CONFIGS), default="small")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--batch", type=int, default=80)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=0, help="0: torch's default")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda for the GPU anchor of the device check")
    parser.add_argument("--tf32", choices=("off", "on"), default="off",
                        help="CUDA matmuls and convolutions on TF32 tensor cores (cuDNN's default is on)")
    args = parser.parse_args()
    torch.set_default_device(args.device)
    if args.device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = args.tf32 == "on"
        torch.backends.cudnn.allow_tf32 = args.tf32 == "on"
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    torch.set_default_dtype(torch.float64 if args.dtype == "float64" else torch.float32)
    _, _, _, step = make_step(CONFIGS[args.config], args.batch)
    for _ in range(args.warmup):
        step()
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        step()
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1e3)
    print(json.dumps(dict(config=args.config, dtype=args.dtype, batch=args.batch, device=args.device, tf32=args.tf32,
                          threads=torch.get_num_threads(), steps=args.steps, stepMs=times,
                          medianMs=statistics.median(times))))


if __name__ == "__main__":
    main()
