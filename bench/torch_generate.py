"""PyTorch CPU anchor for bench/engine-generate: the same Llama-style model sampling a batch with a
key/value cache (temperature 1, top-p 0.95), timed over the same number of new tokens.
Usage: python3 torch_generate.py '{"vocabSize":2048,...,"batch":16,"promptLength":16,"newTokens":128}' → one JSON line."""
import json, math, sys, time
import torch
import torch.nn.functional as F

cfg = json.loads(sys.argv[1])
torch.set_num_threads(int(cfg.get("threads", 2)))
torch.manual_seed(0)
V, C, FF, L, H = cfg["vocabSize"], cfg["hiddenSize"], cfg["intermediateSize"], cfg["numLayers"], cfg["numHeads"]
B, P, N = cfg["batch"], cfg["promptLength"], cfg["newTokens"]
D = C // H
T = P + N
g = lambda *s: torch.randn(*s) * 0.02
E = g(V, C)
layers = [dict(q=g(C, C), k=g(C, C), v=g(C, C), o=g(C, C), gate=g(FF, C), up=g(FF, C), down=g(C, FF)) for _ in range(L)]
inv = 1.0 / (10000 ** (torch.arange(0, D, 2).float() / D))
freqs = torch.outer(torch.arange(T).float(), inv)
COS, SIN = torch.cat((freqs, freqs), -1).cos(), torch.cat((freqs, freqs), -1).sin()


def norm(x):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5)


def rot(x, pos):  # x (B, H, n, D)
    x1, x2 = x[..., : D // 2], x[..., D // 2 :]
    return x * COS[pos] + torch.cat((-x2, x1), -1) * SIN[pos]


@torch.no_grad()
def step(ids, cache, start):
    n = ids.shape[1]
    pos = torch.arange(start, start + n)
    x = E[ids]
    for l, w in enumerate(layers):
        h = norm(x)
        q, k, v = ((h @ w[m].t()).view(B, n, H, D).transpose(1, 2) for m in ("q", "k", "v"))
        q, k = rot(q, pos), rot(k, pos)
        cache[l][0][:, :, start : start + n] = k
        cache[l][1][:, :, start : start + n] = v
        K, Vv = cache[l][0][:, :, : start + n], cache[l][1][:, :, : start + n]
        att = q @ K.transpose(-2, -1) / math.sqrt(D)
        if n > 1:
            att = att + torch.full((n, start + n), float("-inf")).triu(start + 1)
        y = (att.softmax(-1) @ Vv).transpose(1, 2).reshape(B, n, C)
        x = x + y @ w["o"].t()
        h = norm(x)
        x = x + (F.silu(h @ w["gate"].t()) * (h @ w["up"].t())) @ w["down"].t()
    return norm(x[:, -1]) @ E.t()


def sample(logits):
    probs = (logits / 1.0).softmax(-1)
    sp, si = probs.sort(-1, descending=True)
    keep = sp.cumsum(-1) - sp < 0.95
    sp = sp * keep
    choice = torch.multinomial(sp / sp.sum(-1, keepdim=True), 1)
    return si.gather(-1, choice)


def run():
    cache = [(torch.zeros(B, H, T, D), torch.zeros(B, H, T, D)) for _ in range(L)]
    ids = torch.randint(0, V, (B, P))
    logits = step(ids, cache, 0)
    for i in range(N):
        tok = sample(logits)
        if i < N - 1:
            logits = step(tok, cache, P + i)


run()  # warm-up
t = time.perf_counter()
run()
elapsed = time.perf_counter() - t
print(json.dumps({"tokens_per_s": B * N / elapsed, "torch": torch.__version__}))
