"""GPU check of the mtsa PyTorch worker, Python only (no Node.js, no network): run by
scripts/gpu-check.sh on a machine with torch, transformers, peft and safetensors.

It drives python/mtsa_worker.py through its JSON-lines protocol, as the TypeScript client does, and
prints one JSON line per check:
  1. conformance on the device: scores on the device (fp32 and bf16) against the worker on CPU in
     fp32; one DPO step from the same weights, its parameter update compared by cosine; a checkpoint
     saved on the device restores on CPU with equal scores; a few DPO steps raise the margin.
  2. throughput of one DPO step (bf16, 8 pairs of 1024 tokens, AdamW, clipping, a frozen reference
     whose log-probs are computed once) through the worker, beside a plain PyTorch + transformers
     loop doing the same step in the same run, on randomly initialised Llamas of about 0.35B and
     1.1B parameters.
Usage: python3 python/gpu_check.py [--device cuda] [--tiny] [--skip-throughput] [--sizes 0.35b,1.1b]
--tiny: small models and sequences, for a CPU smoke test (`--device cpu --tiny`).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "mtsa_worker.py")

# Tolerances stated up front (they are printed with the results).
TOL = {
    "score_rel_fp32": 1e-4,    # summed log-probs, device fp32 vs CPU fp32
    "score_rel_bf16": 3e-2,    # bf16 weights and activations (log-softmax in fp32)
    "update_cos_fp32": 0.999,  # parameter update of one DPO step, device fp32 vs CPU fp32
    "update_cos_bf16": 0.95,   # bf16: Adam's first step is close to lr*sign(g), small gradients flip sign
    "restore_rel": 1e-4,       # saved on the device (fp32), restored on CPU
}

SIZES = {
    # ~0.37B: Llama layout, untied head
    "0.35b": dict(hidden_size=1024, intermediate_size=2816, num_hidden_layers=24, num_attention_heads=16, num_key_value_heads=16, vocab_size=32000),
    # ~1.1B: TinyLlama's shape (grouped-query attention, 4 KV heads)
    "1.1b": dict(hidden_size=2048, intermediate_size=5632, num_hidden_layers=22, num_attention_heads=32, num_key_value_heads=4, vocab_size=32000),
    "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, vocab_size=512),
}


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class Worker:
    """The worker as a child process, spoken to in JSON lines (the protocol of docs/torch-trainer.md)."""

    def __init__(self, name):
        self.name = name
        self.proc = subprocess.Popen([sys.executable, "-u", WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.next_id = 1

    def __call__(self, op, **body):
        rid = self.next_id
        self.next_id += 1
        self.proc.stdin.write(json.dumps({"id": rid, "op": op, **body}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.name} exited during request {op} (code {self.proc.wait()})")
        reply = json.loads(line)
        if not reply.get("ok"):
            raise RuntimeError(f"{self.name}: request {op} failed: {reply.get('error')}")
        return reply

    def close(self):
        try:
            self("exit")
        except Exception:  # noqa: BLE001
            pass
        self.proc.wait(timeout=60)


def make_checkpoint(size, directory, seed=0, dtype=torch.float32, device="cpu"):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(**SIZES[size], max_position_embeddings=2048, rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False,
                         bos_token_id=None, eos_token_id=None, pad_token_id=0)
    with torch.device(device):  # random init on the GPU: seconds instead of a minute for 1.1B on CPU
        model = LlamaForCausalLM(config).to(dtype)
    model.save_pretrained(directory, safe_serialization=True)
    params = sum(p.numel() for p in model.parameters())
    del model
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return params


def random_pairs(n_pairs, length, prompt, vocab, seed):
    g = torch.Generator().manual_seed(seed)
    seqs = []
    for _ in range(n_pairs):
        shared = torch.randint(1, vocab, (prompt,), generator=g).tolist()
        for _ in range(2):  # chosen, rejected: same prompt, different completions
            ids = shared + torch.randint(1, vocab, (length - prompt,), generator=g).tolist()
            seqs.append({"ids": ids, "mask": [0] * prompt + [1] * (length - prompt)})
    return seqs


def dpo_coefficients(policy, reference, beta=0.1):
    """Mean sigmoid DPO over pairs (sequences chosen0, rejected0, chosen1, ...): loss and d loss / d log pi."""
    n = len(policy) // 2
    loss, coefficients = 0.0, []
    for i in range(n):
        margin = beta * ((policy[2 * i] - reference[2 * i]) - (policy[2 * i + 1] - reference[2 * i + 1]))
        loss += -math.log(1 / (1 + math.exp(-margin))) / n
        g = -beta * (1 / (1 + math.exp(margin))) / n
        coefficients += [g, -g]
    return loss, coefficients


def flat_weights(directory):
    from safetensors.torch import load_file

    state = load_file(os.path.join(directory, "model.safetensors"))
    return torch.cat([state[k].float().reshape(-1) for k in sorted(state)])


def rel(a, b):
    return max(abs(x - y) / max(1e-12, abs(y)) for x, y in zip(a, b))


def conformance(device, tiny, work):
    # The conformance model is small on purpose: the checks are about numerics, not scale.
    cfg = dict(SIZES["tiny"]) if tiny else dict(hidden_size=256, intermediate_size=688, num_hidden_layers=4, num_attention_heads=8, num_key_value_heads=4, vocab_size=2048)
    SIZES["conformance"] = cfg
    ck = os.path.join(work, "conformance")
    make_checkpoint("conformance", ck, seed=1)
    seqs = random_pairs(4, 48 if tiny else 256, 16 if tiny else 96, cfg["vocab_size"], seed=2)
    lr, opts = 1e-3, {"maxGradNorm": 1.0, "weightDecay": 0.1}
    cpu = Worker("cpu worker")
    cpu("load", path=ck, options={"device": "cpu", "dtype": "fp32"})
    ref_scores = cpu("score", sequences=seqs)["logProbs"]
    cpu_fwd = cpu("train_forward", sequences=seqs)["logProbs"]
    reference = [s - 0.5 * (i % 2) for i, s in enumerate(ref_scores)]  # a reference that differs from the policy
    loss_cpu, coef = dpo_coefficients(cpu_fwd, reference)
    cpu("train_backward", coefficients=coef, lr=lr, **opts)
    cpu("save", dir=os.path.join(work, "step-cpu"))
    before = flat_weights(ck)
    update_cpu = flat_weights(os.path.join(work, "step-cpu")) - before
    results = {}
    for dtype in ("fp32", "bf16"):
        dev = Worker(f"{device} {dtype} worker")
        info = dev("load", path=ck, options={"device": device, "dtype": dtype})
        scores = dev("score", sequences=seqs)["logProbs"]
        score_rel = rel(scores, ref_scores)
        fwd = dev("train_forward", sequences=seqs)["logProbs"]
        loss_dev, coef_dev = dpo_coefficients(fwd, reference)
        grad_norm = dev("train_backward", coefficients=coef_dev, lr=lr, **opts)["gradNorm"]
        dev("save", dir=os.path.join(work, f"step-{dtype}"))
        update = flat_weights(os.path.join(work, f"step-{dtype}")) - before
        cos = float(torch.nn.functional.cosine_similarity(update.double(), update_cpu.double(), dim=0))
        line = {"check": "conformance", "device": info["device"], "dtype": dtype, "score_max_rel_err": score_rel,
                "score_tol": TOL[f"score_rel_{dtype}"], "update_cosine": cos, "update_cos_tol": TOL[f"update_cos_{dtype}"],
                "loss": loss_dev, "loss_cpu_fp32": loss_cpu, "grad_norm": grad_norm}
        ok = score_rel <= TOL[f"score_rel_{dtype}"] and cos >= TOL[f"update_cos_{dtype}"]
        if dtype == "fp32":
            # saved on the device, restored on CPU: equal scores
            check = Worker("cpu restore worker")
            check("load", path=ck, options={"device": "cpu", "dtype": "fp32"})
            check("restore", dir=os.path.join(work, "step-fp32"))
            restored = check("score", sequences=seqs)["logProbs"]
            after = dev("score", sequences=seqs)["logProbs"]
            line["restore_max_rel_err"] = rel(restored, after)
            ok = ok and line["restore_max_rel_err"] <= TOL["restore_rel"]
            check.close()
        else:
            # a few DPO steps on the device raise the margin (reference: the snapshot before them)
            dev("snapshot_reference")
            dev("reset_optimizer")
            ref_now = dev("score", sequences=seqs, reference=True)["logProbs"]
            margins = []
            for _ in range(5):
                fwd = dev("train_forward", sequences=seqs)["logProbs"]
                _, c = dpo_coefficients(fwd, ref_now)
                dev("train_backward", coefficients=c, lr=5e-4, **opts)
            cur = dev("score", sequences=seqs)["logProbs"]
            margins = [(cur[2 * i] - ref_now[2 * i]) - (cur[2 * i + 1] - ref_now[2 * i + 1]) for i in range(len(seqs) // 2)]
            line["dpo_margin_after_5_steps"] = sum(margins) / len(margins)
            ok = ok and line["dpo_margin_after_5_steps"] > 0
        line["ok"] = ok
        results[dtype] = ok
        emit(line)
        dev.close()
    cpu.close()
    return all(results.values())


def plain_loop_step_time(ck, device, seqs, ref, steps, warmup):
    """The same DPO step written directly with transformers + torch.optim.AdamW (the anchor)."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(ck, dtype=torch.bfloat16).to(device)
    model.train()
    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    fused = device.startswith("cuda")
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}], lr=1e-6, fused=fused)
    ids = torch.tensor([s["ids"] for s in seqs], device=device)
    mask = torch.tensor([s["mask"] for s in seqs], device=device, dtype=torch.float32)[:, 1:]
    ref_t = torch.tensor(ref, device=device)
    times = []
    for step in range(warmup + steps):
        sync(device)
        t = time.perf_counter()
        logits = model(input_ids=ids, use_cache=False).logits[:, :-1].float()
        logp = (torch.log_softmax(logits, -1).gather(2, ids[:, 1:, None])[..., 0] * mask).sum(1)
        del logits
        ratio = logp - ref_t
        loss = -torch.nn.functional.logsigmoid(0.1 * (ratio[0::2] - ratio[1::2])).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        sync(device)
        if step >= warmup:
            times.append(time.perf_counter() - t)
    del model, opt
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return sorted(times)[len(times) // 2]


def worker_step_time(ck, device, seqs, steps, warmup):
    w = Worker(f"{device} bf16 worker")
    info = w("load", path=ck, options={"device": device, "dtype": "bf16"})
    ref = w("score", sequences=seqs, reference=True)["logProbs"]  # the frozen reference, once
    times = []
    for step in range(warmup + steps):
        t = time.perf_counter()
        fwd = w("train_forward", sequences=seqs)["logProbs"]
        _, coef = dpo_coefficients(fwd, ref)
        w("train_backward", coefficients=coef, lr=1e-6, maxGradNorm=1.0, weightDecay=0.1)
        if step >= warmup:
            times.append(time.perf_counter() - t)
    w.close()
    return sorted(times)[len(times) // 2], ref, info


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def throughput(device, sizes, tiny, work):
    n_pairs, length, prompt = (2, 64, 16) if tiny else (8, 1024, 256)
    steps, warmup = (2, 1) if tiny else (5, 2)
    for size in sizes:
        ck = os.path.join(work, f"rand-{size}")
        params = make_checkpoint(size, ck, seed=3, dtype=torch.bfloat16, device=device)
        seqs = random_pairs(n_pairs, length, prompt, SIZES[size]["vocab_size"], seed=4)
        tokens = len(seqs) * length
        t_worker, ref, info = worker_step_time(ck, device, seqs, steps, warmup)
        t_plain = plain_loop_step_time(ck, device, seqs, ref, steps, warmup)
        name = torch.cuda.get_device_name(torch.device(device)) if device.startswith("cuda") else "cpu"
        emit({"check": "throughput", "size": size, "parameters": params, "device": name, "dtype": "bf16", "pairs": n_pairs, "seq_len": length,
              "worker_tokens_per_s": round(tokens / t_worker), "plain_loop_tokens_per_s": round(tokens / t_plain),
              "worker_over_plain": round(t_plain / t_worker, 3), "goal": ">= 0.9", "median_of_steps": steps})
        shutil.rmtree(ck, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--tiny", action="store_true", help="tiny models and sequences (CPU smoke test)")
    ap.add_argument("--sizes", default=None, help="comma-separated: 0.35b,1.1b (default); tiny with --tiny")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--skip-conformance", action="store_true")
    args = ap.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        emit({"check": "environment", "ok": False, "error": "torch.cuda.is_available() is False"})
        sys.exit(2)
    started = time.time()
    emit({"check": "environment", "torch": torch.__version__, "device": args.device, "cuda": torch.version.cuda,
          "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None, "tolerances": TOL})
    work = tempfile.mkdtemp(prefix="mtsa-gpu-check-")
    ok = True
    try:
        if not args.skip_conformance:
            ok = conformance(args.device, args.tiny, work)
        if not args.skip_throughput:
            sizes = (args.sizes or ("tiny" if args.tiny else "0.35b,1.1b")).split(",")
            throughput(args.device, sizes, args.tiny, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    emit({"check": "done", "ok": ok, "seconds": round(time.time() - started, 1)})
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
