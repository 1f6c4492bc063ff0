"""The mtsa PyTorch worker: a TrainablePolicy (src/core/models.ts) run by PyTorch + transformers,
driven over JSON lines on stdin/stdout by src/models/torch/torch-policy.ts (or python/gpu_check.py).

One request per line: {"id": n, "op": "...", ...}; one reply per request, in order:
{"id": n, "ok": true, ...} or {"id": n, "ok": false, "error": "...", "kind": "oom" | "exception" | "protocol"}.
Stdout carries only replies; everything else (library logs, warnings) goes to stderr.

Tokenisation is the caller's: requests carry token ids and 0/1 masks of scored tokens. A training
step is two requests around the caller's pure loss, with ONE forward:
  train_forward {sequences}       -> forward keeping the graph; replies per-sequence log-probs
  train_backward {coefficients}   -> backward of sum_i c_i * log pi_i, clip, AdamW; replies the grad norm
The protocol is documented in docs/torch-trainer.md.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
import traceback

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

PROTOCOL_VERSION = 1


class WorkerError(Exception):
    pass


# ---- data parallelism (torchrun / accelerate launch) ----------------------------------------
# Under a launcher, every rank runs this worker: rank 0 reads the requests and broadcasts them,
# each rank scores its shard of the sequences (i % world == rank), rank 0 replies with the gathered
# log-probs, the coefficients reach every rank, each rank back-propagates its shard, and the
# gradients are SUMMED across ranks (the loss gradient is sum_i c_i grad log pi_i, not a mean)
# before the same clipping and AdamW step on every rank. The protocol does not change.
WORLD = int(os.environ.get("WORLD_SIZE", "1"))
RANK = int(os.environ.get("RANK", "0"))
LOCAL_RANK = int(os.environ.get("LOCAL_RANK", "0"))


def _dist():
    import torch.distributed as dist

    return dist


def gather_objects(obj):
    """Every rank's obj, in rank order (a list of one without a launcher)."""
    if WORLD == 1:
        return [obj]
    out = [None] * WORLD
    _dist().all_gather_object(out, obj)
    return out


def agree(error):
    """Collective error check: raises the first rank's error on every rank, so all ranks stay in step."""
    errors = [e for e in gather_objects(error) if e]
    if errors:
        raise WorkerError(errors[0])


def _dtype(name: str) -> torch.dtype:
    table = {"fp32": torch.float32, "float32": torch.float32, "bf16": torch.bfloat16, "bfloat16": torch.bfloat16, "fp16": torch.float16}
    if name not in table:
        raise WorkerError(f'dtype "{name}" is not one of fp32, bf16, fp16')
    return table[name]


class Policy:
    """A causal LM with an optional LoRA adapter, a frozen reference, and an AdamW that matches
    src/engine/optim/adamw.ts (decoupled decay on matrices only, bias-corrected moments,
    eps outside the square root, global-norm clipping by max/norm)."""

    def __init__(self, path: str, device: str = "cpu", dtype: str = "fp32", lora: dict | None = None,
                 gradient_checkpointing: bool = False, micro_batch_tokens: int = 0, threads: int = 0,
                 seed: int = 0, attention: str | None = None):
        from transformers import AutoConfig, AutoModelForCausalLM

        if threads > 0:
            torch.set_num_threads(threads)
        torch.manual_seed(seed)
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise WorkerError(f'device "{device}" asked for but torch.cuda.is_available() is False (CPU build of PyTorch?)')
        self.path = path
        if WORLD > 1 and device == "cuda":
            device = f"cuda:{LOCAL_RANK}"
        self.device = torch.device(device)
        self.dtype = _dtype(dtype)
        self.micro_batch_tokens = int(micro_batch_tokens or 0)
        self.config = AutoConfig.from_pretrained(path)
        kwargs = {"dtype": self.dtype}
        if attention:
            kwargs["attn_implementation"] = attention
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs).to(self.device)
        self.tied = bool(getattr(model.config, "tie_word_embeddings", False))
        self.lora = None
        if lora:
            from peft import LoraConfig, get_peft_model

            self.lora = LoraConfig(r=int(lora.get("rank", 16)), lora_alpha=float(lora.get("alpha", 32)), lora_dropout=0.0,
                                   target_modules=list(lora.get("targets") or ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]),
                                   bias="none", task_type="CAUSAL_LM")
            model = get_peft_model(model, self.lora)
        if gradient_checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.train()  # Llama has no dropout; train mode only switches gradient checkpointing on
        self.model = model
        self.reference = None  # full fine-tuning: a frozen copy (made lazily on the first snapshot)
        if not self.lora:
            self._snapshot_full()
        self.optimizer = None
        self.pending = None  # (log-probs tensors per micro-batch, index lists) between the two halves of a step
        self.step = 0

    # ---- modules -------------------------------------------------------------------------
    def _causal_lm(self, model=None):
        model = model if model is not None else self.model
        return model.get_base_model() if self.lora and model is self.model else model

    def trainable(self):
        return [p for p in self.model.parameters() if p.requires_grad]

    def _snapshot_full(self):
        import copy

        if self.reference is None:
            self.reference = copy.deepcopy(self.model)
            self.reference.eval()
            for p in self.reference.parameters():
                p.requires_grad_(False)
        else:
            with torch.no_grad():
                for r, p in zip(self.reference.parameters(), self.model.parameters()):
                    r.copy_(p)

    # ---- scoring ---------------------------------------------------------------------------
    def _micro_batches(self, sequences):
        """Index lists of sequences per forward, sorted by length, each at most micro_batch_tokens padded tokens."""
        order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]["ids"]))
        if self.micro_batch_tokens <= 0:
            return [order] if order else []
        out, current, longest = [], [], 0
        for i in order:
            n = len(sequences[i]["ids"])
            if current and max(longest, n) * (len(current) + 1) > self.micro_batch_tokens:
                out.append(current)
                current, longest = [], 0
            current.append(i)
            longest = max(longest, n)
        if current:
            out.append(current)
        return out

    def _log_probs(self, model, sequences, indices):
        """Sum of log p(scored token) per sequence (differentiable when grad is on). Right padding with
        causal attention needs no mask: real tokens never see the pads. Only scored rows reach the head."""
        batch = [sequences[i] for i in indices]
        T = max(len(s["ids"]) for s in batch)
        ids = torch.zeros((len(batch), T), dtype=torch.long)
        scored = torch.zeros((len(batch), T), dtype=torch.bool)
        for b, s in enumerate(batch):
            if len(s["ids"]) != len(s["mask"]):
                raise WorkerError(f"sequence {indices[b]}: {len(s['ids'])} ids but {len(s['mask'])} mask entries")
            ids[b, : len(s["ids"])] = torch.tensor(s["ids"], dtype=torch.long)
            scored[b, : len(s["mask"])] = torch.tensor(s["mask"], dtype=torch.bool)
        scored[:, 0] = False  # the first token has no prediction
        where = scored.nonzero()  # (K, 2): sequence, position — row-major, as the engine packs them
        if where.shape[0] == 0:
            return torch.zeros(len(batch), device=self.device)
        rows = (where[:, 0] * T + where[:, 1] - 1).to(self.device)
        targets = ids[where[:, 0], where[:, 1]].to(self.device)
        segments = where[:, 0].to(self.device)
        ids = ids.to(self.device)
        lm = self._causal_lm(model)
        hidden = lm.model(input_ids=ids, use_cache=False).last_hidden_state  # (B, T, C)
        picked = hidden.reshape(-1, hidden.shape[-1])[rows]
        logits = lm.lm_head(picked).float()
        token = torch.log_softmax(logits, dim=-1).gather(1, targets[:, None])[:, 0]
        out = torch.zeros(len(batch), device=self.device, dtype=torch.float32)
        return out.index_add(0, segments, token)

    @staticmethod
    def _counts(sequences):
        return [sum(s["mask"][1:]) for s in sequences]

    @staticmethod
    def _shard(n):
        return [i for i in range(n) if i % WORLD == RANK]

    def _local(self, sequences):
        """This rank's sequences (all of them without a launcher) and their global indices."""
        own = self._shard(len(sequences))
        return [sequences[i] for i in own], own

    @staticmethod
    def _merge(local_values, own, n):
        values = [0.0] * n
        for part in gather_objects(dict(zip(own, local_values))):
            for i, v in part.items():
                values[i] = v
        return values

    def score(self, sequences, reference=False):
        local, own = self._local(sequences)
        error = None
        try:
            values = self._score_local(local, reference)
        except Exception as e:  # noqa: BLE001 - reported on every rank by agree()
            error, values = f"{type(e).__name__}: {e}", []
        agree(error)
        return {"logProbs": self._merge(values, own, len(sequences)), "tokens": self._counts(sequences)}

    def _score_local(self, sequences, reference):
        values = [0.0] * len(sequences)
        with torch.no_grad():
            for indices in self._micro_batches(sequences):
                if reference and self.lora:
                    with self.model.disable_adapter():
                        lp = self._log_probs(self.model, sequences, indices)
                else:
                    lp = self._log_probs(self.reference if reference else self.model, sequences, indices)
                for k, v in enumerate(lp.cpu().tolist()):
                    values[indices[k]] = v
        return values

    def logits(self, ids):
        with torch.no_grad():
            x = torch.tensor(ids, dtype=torch.long, device=self.device)
            return {"logits": self.model(input_ids=x, use_cache=False).logits.float().cpu().tolist()}

    # ---- training --------------------------------------------------------------------------
    def train_forward(self, sequences):
        if not sequences:
            raise WorkerError("train_forward: no sequences")
        self.pending = None
        local, own = self._local(sequences)
        graphs, values, error = [], [0.0] * len(local), None
        try:
            for indices in self._micro_batches(local):
                lp = self._log_probs(self.model, local, indices)
                # graph rows refer to global sequence indices (for the coefficients)
                graphs.append((lp, [own[i] for i in indices]))
                for k, v in enumerate(lp.detach().cpu().tolist()):
                    values[indices[k]] = v
        except Exception as e:  # noqa: BLE001
            graphs, error = [], f"{type(e).__name__}: {e}"
        agree(error)
        self.pending = (graphs, len(sequences))
        return {"logProbs": self._merge(values, own, len(sequences)), "tokens": self._counts(sequences)}

    def _ensure_optimizer(self):
        if self.optimizer is None:
            params = self.trainable()
            decay = [p for p in params if p.dim() >= 2]
            other = [p for p in params if p.dim() < 2]
            fused = self.device.type == "cuda"
            self.optimizer = torch.optim.AdamW(
                [{"params": decay, "weight_decay": 0.0}, {"params": other, "weight_decay": 0.0}],
                lr=0.0, betas=(0.9, 0.999), eps=1e-8, fused=fused, foreach=None if fused else True)
            self.step = 0

    def train_backward(self, coefficients, lr, max_grad_norm=1.0, weight_decay=0.0):
        if self.pending is None:
            raise WorkerError("train_backward without a pending train_forward (each step is train_forward then train_backward)")
        graphs, n = self.pending
        self.pending = None
        if len(coefficients) != n:
            raise WorkerError(f"train_backward: {len(coefficients)} coefficients for {n} sequences")
        self._ensure_optimizer()
        self.optimizer.zero_grad(set_to_none=True)
        c = torch.tensor(coefficients, dtype=torch.float32, device=self.device)
        total = None
        error = None
        try:
            for lp, indices in graphs:
                term = (lp * c[torch.tensor(indices, device=self.device)]).sum()
                total = term if total is None else total + term
            if total is not None:
                total.backward()
        except Exception as e:  # noqa: BLE001
            error = f"{type(e).__name__}: {e}"
        del graphs, total
        agree(error)
        params = self.trainable()
        if WORLD > 1:
            for p in params:
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
            dist = _dist()
            for p in params:  # a sum: each rank holds the gradient of its own sequences' terms
                dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
        grads = [p.grad for p in params if p.grad is not None]
        norm = torch.linalg.vector_norm(torch.stack([n.float() for n in torch._foreach_norm(grads)])) if grads else torch.zeros(())
        norm_value = float(norm)
        if not math.isfinite(norm_value):
            self.optimizer.zero_grad(set_to_none=True)
            raise WorkerError(f"AdamW step {self.step + 1}: gradient norm is {norm_value}")
        if max_grad_norm and max_grad_norm > 0 and norm_value > max_grad_norm:
            torch._foreach_mul_(grads, max_grad_norm / norm_value)
        decay_group, other_group = self.optimizer.param_groups
        for group in (decay_group, other_group):
            group["lr"] = float(lr)
        decay_group["weight_decay"] = float(weight_decay)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        return {"gradNorm": norm_value}

    def reset_optimizer(self):
        self.pending = None
        self.optimizer = None
        self.model.zero_grad(set_to_none=True)
        return {}

    def snapshot_reference(self):
        if self.lora:
            # The reference of a LoRA policy is the adapter switched off, so a snapshot folds the
            # adapter into the base weights and starts a fresh (zero) adapter: the policy is unchanged.
            from peft import get_peft_model

            base = self.model.merge_and_unload()
            self.model = get_peft_model(base, self.lora)
            self.model.train()
            self.optimizer = None
        else:
            self._snapshot_full()
        return {}

    # ---- weights ---------------------------------------------------------------------------
    def merged_state(self):
        """Weights as the plain causal LM would hold them (adapter folded in), HF names, on CPU, fp32."""
        if not self.lora:
            state = {k: v.detach().float().cpu() for k, v in self.model.state_dict().items()}
        else:
            state = {}
            deltas = {}
            for name, module in self.model.named_modules():
                if hasattr(module, "get_delta_weight") and hasattr(module, "base_layer"):
                    key = name.replace("base_model.model.", "", 1) + ".weight"
                    deltas[key] = module.get_delta_weight("default").detach().float().cpu()
            for k, v in self.model.state_dict().items():
                if "lora_" in k:
                    continue
                key = k.replace("base_model.model.", "", 1).replace(".base_layer", "")
                state[key] = v.detach().float().cpu()
            for key, d in deltas.items():
                state[key] = state[key] + d
        if self.tied:
            state.pop("lm_head.weight", None)
        return state

    def save(self, directory, metadata=None):
        directory = os.path.abspath(directory)
        if RANK == 0:
            self._save(directory, metadata)
        if WORLD > 1:
            _dist().barrier()  # every rank holds the same weights; rank 0 writes them
        return {"dir": directory}

    def _save(self, directory, metadata=None):
        from safetensors.torch import save_file

        tmp = f"{directory}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        state = {k: v.contiguous() for k, v in self.merged_state().items()}
        save_file(state, os.path.join(tmp, "model.safetensors"), metadata={"format": "pt"})
        for name in os.listdir(self.path):
            if name in ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json", "chat_template.jinja"):
                shutil.copyfile(os.path.join(self.path, name), os.path.join(tmp, name))
        if not os.path.exists(os.path.join(tmp, "config.json")):
            self.config.save_pretrained(tmp)
        with open(os.path.join(tmp, "mtsa.json"), "w") as f:
            json.dump(metadata or {}, f, indent=2)
            f.write("\n")
        if os.path.exists(directory):
            shutil.rmtree(directory)
        os.rename(tmp, directory)

    def restore(self, directory):
        from safetensors.torch import load_file

        path = os.path.join(directory, "model.safetensors")
        if not os.path.exists(path):
            raise WorkerError(f"{directory}: missing model.safetensors")
        stored = load_file(path)
        if self.lora:
            from peft import get_peft_model

            base = self.model.merge_and_unload()
            self._load_into(base, stored, path)
            self.model = get_peft_model(base, self.lora)
            self.model.train()
        else:
            self._load_into(self.model, stored, path)
        self.reset_optimizer()
        return {}

    def _load_into(self, model, stored, path):
        own = model.state_dict()
        missing = [k for k in own if k not in stored and not (self.tied and k == "lm_head.weight")]
        if missing:
            raise WorkerError(f"{path}: tensor \"{missing[0]}\" is missing ({len(missing)} missing)")
        with torch.no_grad():
            for k, t in own.items():
                if k in stored:
                    if tuple(stored[k].shape) != tuple(t.shape):
                        raise WorkerError(f"{path}: tensor \"{k}\" has shape {list(stored[k].shape)}, the model has {list(t.shape)}")
                    t.copy_(stored[k].to(t.dtype))

    def fingerprint(self):
        """The engine's formula (local-policy.ts): sum over weights of w[i]*((i%13)+1) for i = 0, 7, 14, ..."""
        s = 0.0
        for _, t in self.merged_state().items():
            flat = t.reshape(-1).double()
            idx = torch.arange(0, flat.numel(), 7)
            s += float((flat[idx] * ((idx % 13) + 1).double()).sum())
        return {"fingerprint": s}

    # ---- generation ------------------------------------------------------------------------
    def generate(self, requests, force_after=None, pad_id=0):
        local, own = self._local(requests)
        error, results = None, []
        try:
            results = self._generate_local(local, force_after, pad_id)["results"] if local else []
        except Exception as e:  # noqa: BLE001
            error = f"{type(e).__name__}: {e}"
        agree(error)
        return {"results": self._merge(results, own, len(requests))}

    def _generate_local(self, requests, force_after=None, pad_id=0):
        """Batched sampling with a KV cache. Each request: ids, temperature, topP, maxTokens, seed,
        stopIds, and optional force (token ids fed without sampling right after the first sampled
        token in force_after). Prompts are left-padded; each row samples with its own generator."""
        if not requests:
            return {"results": []}
        after = set(force_after or [])
        B = len(requests)
        lengths = [len(r["ids"]) for r in requests]
        P = max(lengths)
        ids = torch.full((B, P), pad_id, dtype=torch.long)
        mask = torch.zeros((B, P), dtype=torch.long)
        for b, r in enumerate(requests):
            ids[b, P - lengths[b]:] = torch.tensor(r["ids"], dtype=torch.long)
            mask[b, P - lengths[b]:] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        gens = []
        for r in requests:
            g = torch.Generator(device="cpu")
            g.manual_seed(int(r.get("seed", 0)) & 0xFFFFFFFFFFFF)
            gens.append(g)
        out = [[] for _ in range(B)]
        finish = [None] * B
        pending = [None] * B  # forced tokens still to feed
        forced_done = [False] * B
        max_new = [max(1, int(r["maxTokens"])) for r in requests]
        stops = [set(r.get("stopIds") or []) for r in requests]
        limit = int(getattr(self.config, "max_position_embeddings", 1 << 30))
        lm = self.model
        was_training = lm.training
        lm.eval()
        try:
            with torch.no_grad():
                positions = (mask.cumsum(-1) - 1).clamp(min=0)
                res = lm(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True)
                cache = res.past_key_values
                last = res.logits[:, -1, :].float()
                next_pos = positions[:, -1] + 1
                temps = torch.tensor([max(float(r["temperature"]), 1e-6) for r in requests], dtype=torch.float64)[:, None]
                while any(f is None for f in finish):
                    chosen = torch.full((B,), pad_id, dtype=torch.long)
                    probs = torch.softmax(last.cpu().double() / temps, dim=-1)
                    greedy = torch.argmax(last, dim=-1).cpu()
                    for b in range(B):
                        if finish[b] is not None:
                            continue
                        is_forced = bool(pending[b])
                        if is_forced:
                            tok = pending[b].pop(0)
                        else:
                            if float(requests[b]["temperature"]) <= 0:
                                tok = int(greedy[b])
                            else:
                                tok = self._sample(probs[b], float(requests[b].get("topP", 1.0)), gens[b])
                            if not forced_done[b] and requests[b].get("force") and tok in after:
                                forced_done[b] = True
                                pending[b] = list(requests[b]["force"])
                        out[b].append(tok)
                        chosen[b] = tok
                        if not is_forced and tok in stops[b]:
                            finish[b] = "stop"
                        elif len(out[b]) >= max_new[b]:
                            finish[b] = "length"
                        elif lengths[b] + len(out[b]) >= limit:
                            finish[b] = "context"
                    if all(f is not None for f in finish):
                        break
                    mask = torch.cat([mask, torch.ones((B, 1), dtype=mask.dtype, device=self.device)], dim=1)
                    res = lm(input_ids=chosen[:, None].to(self.device), attention_mask=mask, position_ids=next_pos[:, None],
                             past_key_values=cache, use_cache=True)
                    cache = res.past_key_values
                    last = res.logits[:, -1, :].float()
                    next_pos = next_pos + 1
        finally:
            if was_training:
                lm.train()
        return {"results": [{"tokens": out[b], "finishReason": finish[b]} for b in range(B)]}

    @staticmethod
    def _sample(probs, top_p, gen):
        if top_p < 1:
            sorted_p, order = torch.sort(probs, descending=True)
            keep = torch.cumsum(sorted_p, 0) - sorted_p < top_p
            keep[0] = True
            filtered = torch.zeros_like(probs)
            filtered[order[keep]] = sorted_p[keep]
            probs = filtered / filtered.sum()
        return int(torch.multinomial(probs, 1, generator=gen))


def describe(policy: Policy) -> dict:
    c = policy.config
    return {
        "protocol": PROTOCOL_VERSION,
        "device": str(policy.device),
        "dtype": str(policy.dtype).replace("torch.", ""),
        "parameters": sum(p.numel() for p in policy.model.parameters()),
        "trainable": sum(p.numel() for p in policy.trainable()),
        "vocabSize": int(getattr(c, "vocab_size", 0)),
        "maxPositions": int(getattr(c, "max_position_embeddings", 0)),
        "modelType": getattr(c, "model_type", None),
        "tied": policy.tied,
        "torch": torch.__version__,
        "lora": bool(policy.lora),
        "world": WORLD,
    }


def handle(state: dict, request: dict) -> dict:
    op = request.get("op")
    if op == "hello":
        return {"protocol": PROTOCOL_VERSION, "pid": os.getpid(), "torch": torch.__version__}
    if op == "load":
        o = request.get("options") or {}
        state["policy"] = Policy(request["path"], device=o.get("device", "cpu"), dtype=o.get("dtype", "fp32"), lora=o.get("lora"),
                                 gradient_checkpointing=bool(o.get("gradientCheckpointing")), micro_batch_tokens=int(o.get("microBatchTokens") or 0),
                                 threads=int(o.get("threads") or 0), seed=int(o.get("seed") or 0), attention=o.get("attention"))
        return describe(state["policy"])
    if op == "exit":
        state["exit"] = True
        return {}
    if op == "crash":  # fault injection for the client's tests: the process dies mid-request
        os._exit(int(request.get("code", 3)))
    if op == "garbage":  # fault injection: a non-protocol line on stdout
        state["out"].write("this is not json\n")
        state["out"].flush()
        return {}
    if op == "raise_oom":  # fault injection: what a CUDA allocation failure raises
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (injected)")
    if op == "sleep":  # fault injection: a request that takes too long
        time.sleep(float(request.get("seconds", 1)))
        return {}
    policy: Policy | None = state.get("policy")
    if policy is None:
        raise WorkerError(f'"{op}" before "load"')
    if op == "score":
        return policy.score(request["sequences"], bool(request.get("reference")))
    if op == "train_forward":
        return policy.train_forward(request["sequences"])
    if op == "train_backward":
        return policy.train_backward(request["coefficients"], float(request["lr"]), float(request.get("maxGradNorm", 1.0)), float(request.get("weightDecay", 0.0)))
    if op == "train_abort":  # the caller's loss failed: drop the held graph
        policy.pending = None
        return {}
    if op == "snapshot_reference":
        return policy.snapshot_reference()
    if op == "reset_optimizer":
        return policy.reset_optimizer()
    if op == "save":
        return policy.save(request["dir"], request.get("metadata"))
    if op == "restore":
        return policy.restore(request["dir"])
    if op == "fingerprint":
        return policy.fingerprint()
    if op == "generate":
        return policy.generate(request["requests"], request.get("forceAfter"), int(request.get("padId", 0)))
    if op == "logits":
        return policy.logits(request["ids"])
    if op == "info":
        return describe(policy)
    raise WorkerError(f'unknown op "{op}"')


def next_line(inp):
    """The next request line; under a launcher rank 0 reads it and every rank receives it. '' at EOF."""
    line = inp.readline() if RANK == 0 else None
    if WORLD > 1:
        box = [line]
        _dist().broadcast_object_list(box, src=0)
        line = box[0]
    return line


def serve(inp, out) -> None:
    state = {"out": out}
    while True:
        line = next_line(inp)
        if not line:
            return
        line = line.strip()
        if not line:
            continue
        rid = None
        try:
            request = json.loads(line)
            rid = request.get("id")
            reply = {"id": rid, "ok": True, **handle(state, request)}
        except torch.cuda.OutOfMemoryError as e:  # type: ignore[attr-defined]
            if state.get("policy") is not None:
                state["policy"].pending = None
            reply = {"id": rid, "ok": False, "kind": "oom", "error": f"out of memory: {str(e).splitlines()[0]}"}
        except (WorkerError, KeyError, ValueError, TypeError) as e:
            kind = "protocol" if isinstance(e, (KeyError, json.JSONDecodeError)) else "exception"
            reply = {"id": rid, "ok": False, "kind": kind, "error": f"{type(e).__name__}: {e}"}
        except Exception as e:  # noqa: BLE001 - every failure becomes a reply, never a hang
            text = str(e)
            kind = "oom" if "out of memory" in text.lower() else "exception"
            traceback.print_exc(file=sys.stderr)
            reply = {"id": rid, "ok": False, "kind": kind, "error": f"{type(e).__name__}: {text.splitlines()[0] if text else ''}"}
        if RANK == 0:
            out.write(json.dumps(reply) + "\n")
            out.flush()
        if state.get("exit"):
            return


def main() -> None:
    # Keep stdout for replies only: anything a library prints goes to stderr.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    if WORLD > 1:
        dist = _dist()
        if torch.cuda.is_available():
            torch.cuda.set_device(LOCAL_RANK)
            dist.init_process_group(backend="cpu:gloo,cuda:nccl")
        else:
            dist.init_process_group(backend="gloo")
    try:
        serve(sys.stdin, out)
    finally:
        if WORLD > 1:
            _dist().destroy_process_group()


if __name__ == "__main__":
    main()
