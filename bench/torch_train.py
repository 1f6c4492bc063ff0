"""PyTorch CPU anchor for bench/engine-train: the same Llama-style model (RMSNorm, rotate_half RoPE,
causal attention, SwiGLU, tied embeddings) and the same AdamW step, timed over the same batches.
Usage: python3 torch_train.py '{"vocabSize":2048,...,"steps":20,"warmup":3}'  → one JSON line."""
import json, math, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F

cfg = json.loads(sys.argv[1])
torch.set_num_threads(int(cfg.get("threads", 2)))
torch.manual_seed(0)
V, C, F_, L, H = cfg["vocabSize"], cfg["hiddenSize"], cfg["intermediateSize"], cfg["numLayers"], cfg["numHeads"]
T, B = cfg["seqLen"], cfg["batch"]
D = C // H


class RMSNorm(nn.Module):
    def __init__(self, n, eps=1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


inv = 1.0 / (10000 ** (torch.arange(0, D, 2).float() / D))
freqs = torch.outer(torch.arange(T).float(), inv)
emb = torch.cat((freqs, freqs), dim=-1)
COS, SIN = emb.cos()[None, None], emb.sin()[None, None]
MASK = torch.full((T, T), float("-inf")).triu(1)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.n1, self.n2 = RMSNorm(C), RMSNorm(C)
        self.q, self.k, self.v, self.o = (nn.Linear(C, C, bias=False) for _ in range(4))
        self.gate, self.up = nn.Linear(C, F_, bias=False), nn.Linear(C, F_, bias=False)
        self.down = nn.Linear(F_, C, bias=False)

    def forward(self, x):
        h = self.n1(x)
        q, k, v = (p(h).view(B, T, H, D).transpose(1, 2) for p in (self.q, self.k, self.v))
        q, k = q * COS + rotate_half(q) * SIN, k * COS + rotate_half(k) * SIN
        att = (q @ k.transpose(-2, -1)) / math.sqrt(D) + MASK
        y = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, C)
        x = x + self.o(y)
        h = self.n2(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(V, C)
        self.blocks = nn.ModuleList(Block() for _ in range(L))
        self.norm = RMSNorm(C)

    def forward(self, ids):
        x = self.embed(ids)
        for b in self.blocks:
            x = b(x)
        return self.norm(x) @ self.embed.weight.t()  # tied head


model = Model()
with torch.no_grad():  # same init as the engine: N(0, 0.02), residual projections / sqrt(2L)
    for name, p in model.named_parameters():
        if p.dim() == 2:
            p.normal_(0, 0.02 / math.sqrt(2 * L) if name.endswith(("o.weight", "down.weight")) else 0.02)
opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1)
steps, warmup = cfg["steps"], cfg["warmup"]
start = None
for step in range(warmup + steps):
    if step == warmup:
        start = time.perf_counter()
    ids = torch.randint(0, V, (B, T))
    logits = model(ids)
    loss = F.cross_entropy(logits[:, :-1].reshape(-1, V), ids[:, 1:].reshape(-1))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
elapsed = time.perf_counter() - start
print(json.dumps({"tokens_per_s": steps * B * T / elapsed, "loss": loss.item(), "torch": torch.__version__, "threads": torch.get_num_threads()}))
