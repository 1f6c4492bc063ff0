"""Cross-checks mtsa's pure losses against the field's code, for test/parity/trl-crosscheck.test.ts.

Reads one JSON object on stdin and prints one JSON line:
  dpo:    TRL's DPOTrainer (sigmoid loss) on the given policy and reference checkpoints and pairs of
          token ids with completion masks: its loss (DPOTrainer._compute_loss, the method its training
          step calls) and the gradient of that loss for every named parameter.
  future: the MTSA reference code's target loss (src/trainer/mt_rlhf.py, mean over pairs of
          (logits - (R_c - R_r)/(2*beta))^2) on given log-probs, with its gradient by autograd.
"""
import copy
import json
import os
import sys
import tempfile

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import torch  # noqa: E402


def dpo(job):
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast
    from trl import DPOConfig, DPOTrainer

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(job["policy"], dtype=torch.float32)
    ref = AutoModelForCausalLM.from_pretrained(job["reference"], dtype=torch.float32)
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=os.path.join(job["policy"], "tokenizer.json"), pad_token="<|pad|>", eos_token="<|end|>")
    # DPOTrainer wants a training set; the loss is computed below on our own batch. bf16=False: TRL
    # defaults to bf16, which runs the reference model under bf16 autocast; this is an fp32 comparison.
    placeholder = Dataset.from_list([{"prompt": "a", "chosen": "b", "rejected": "c"}])
    args = DPOConfig(output_dir=tempfile.mkdtemp(), beta=job["beta"], loss_type=["sigmoid"], report_to=[], use_cpu=True, bf16=False,
                     per_device_train_batch_size=len(job["chosen"]))
    trainer = DPOTrainer(model=model, ref_model=ref, args=args, train_dataset=placeholder, processing_class=tokenizer)
    rows = job["chosen"] + job["rejected"]  # TRL's batch layout: all chosen, then all rejected
    T = max(len(r["ids"]) for r in rows)
    ids = torch.zeros((len(rows), T), dtype=torch.long)
    attention = torch.zeros((len(rows), T), dtype=torch.long)
    completion = torch.zeros((len(rows), T), dtype=torch.long)
    for b, r in enumerate(rows):
        n = len(r["ids"])
        ids[b, :n] = torch.tensor(r["ids"])
        attention[b, :n] = 1
        completion[b, :n] = torch.tensor(r["mask"])
    model.train()
    model.zero_grad()
    loss = trainer._compute_loss(model, {"input_ids": ids, "attention_mask": attention, "completion_mask": completion}, False)
    loss.backward()
    grads = {name: p.grad.reshape(-1).tolist() for name, p in model.named_parameters() if p.grad is not None}
    return {"loss": float(loss), "grads": grads, "trl": __import__("trl").__version__, "loss_types": trainer.loss_types}


def future(job):
    beta = job["beta"]
    pc = torch.tensor(job["policyChosen"], dtype=torch.float64, requires_grad=True)
    pr = torch.tensor(job["policyRejected"], dtype=torch.float64, requires_grad=True)
    rc, rr = torch.tensor(job["referenceChosen"], dtype=torch.float64), torch.tensor(job["referenceRejected"], dtype=torch.float64)
    logits = (pc - rc) - (pr - rr)
    gap = torch.tensor(job["chosenReward"], dtype=torch.float64) - torch.tensor(job["rejectedReward"], dtype=torch.float64)
    loss = ((logits - gap / (2 * beta)) ** 2).mean()
    loss.backward()
    return {"loss": float(loss), "gradChosen": pc.grad.tolist(), "gradRejected": pr.grad.tolist()}


if __name__ == "__main__":
    job = json.load(sys.stdin)
    out = dpo(job) if job["kind"] == "dpo" else future(job)
    sys.stdout.write(json.dumps(out) + "\n")
