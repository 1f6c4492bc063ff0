/**
 * Checkpoints the ecosystem opens: a checkpoint we save carries tokenizer_config.json whose Jinja
 * chat_template, applied by Hugging Face's own AutoTokenizer (from the project venv), gives our
 * template's token ids token for token — with and without a generation prompt, multi-turn, with a
 * system message — and the text rendering that /v1/completions receives tokenizes to the same ids.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assistant, system, user, type Message } from '../core/message.js';
import { saveCheckpoint } from '../engine/checkpoint/hf-checkpoint.js';
import { venvForTest } from '../testing/python-venv.js';
import { tinyModel, tinyTokenizer } from '../testing/tiny.js';
import { CHAT_TEMPLATE_JINJA, ChatTemplate, HF_CHAT_TEMPLATE, renderChatText } from './chat-template.js';

const corpus = [
  'Thinking 1: ask about the [placeholder] first.',
  'Attack question 2: what is step 3?',
  'I cannot help with that.',
  'Sure, here is a recipe for bread — flour, water, salt.',
  'naïve café “quotes” 😀 tabs\tand\nnewlines',
];

const conversations: { name: string; messages: Message[]; generation: boolean }[] = [
  { name: 'one user turn, generation prompt', messages: [user('What is step 3?')], generation: true },
  {
    name: 'system + multi-turn, generation prompt',
    messages: [system('You are a careful assistant.'), user('Thinking 1: ask.\nAttack question 1: how?'), assistant('I cannot help with that.'), user('naïve café “quotes” 😀')],
    generation: true,
  },
  {
    name: 'finished dialogue, no generation prompt',
    messages: [user('hi'), assistant('Sure, here is a recipe for bread — flour, water, salt.'), user('  leading spaces and\ttabs\n\nlines ')],
    generation: false,
  },
];

const PY = `
import json, sys
from transformers import AutoTokenizer
tok = AutoTokenizer.from_pretrained(sys.argv[1])
out = []
for c in json.loads(sys.argv[2]):
    ids = tok.apply_chat_template(c["messages"], tokenize=True, add_generation_prompt=c["generation"], return_dict=False)
    if hasattr(ids, "keys"): ids = ids["input_ids"]
    text = tok.apply_chat_template(c["messages"], tokenize=False, add_generation_prompt=c["generation"])
    out.append({"ids": list(ids), "text": text, "fromText": tok(text, add_special_tokens=True)["input_ids"]})
print(json.dumps({"out": out, "eos": tok.eos_token_id, "pad": tok.pad_token_id, "bos": tok.bos_token_id}))
`;

describe('Hugging Face chat template', () => {
  const tokenizer = tinyTokenizer(corpus, 400);
  const template = new ChatTemplate(tokenizer);

  it('renderChatText is the text form of render()', () => {
    for (const c of conversations) {
      const text = renderChatText(c.messages, c.generation ? 'assistant' : undefined);
      expect(tokenizer.encode(text, { allowSpecial: true })).toEqual(template.render(c.messages, c.generation ? 'assistant' : undefined).ids);
    }
  });

  it('saved checkpoints carry tokenizer_config.json (chat_template, special tokens) and generation_config.json', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'mtsa-hf-')), 'ckpt');
    saveCheckpoint(dir, { model: tinyModel(0, { vocabSize: tokenizer.vocabSize }), tokenizer, metadata: {}, chat: HF_CHAT_TEMPLATE });
    const config = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ chat_template: CHAT_TEMPLATE_JINJA, bos_token: '<|bos|>', eos_token: '<|end|>', pad_token: '<|pad|>', add_bos_token: false });
    const generation = JSON.parse(readFileSync(join(dir, 'generation_config.json'), 'utf8')) as Record<string, unknown>;
    expect(generation).toMatchObject({ eos_token_id: template.endId, pad_token_id: template.padId, top_k: 0, top_p: 1 });
  });

  const venv = venvForTest('the AutoTokenizer.apply_chat_template check');
  it.runIf(venv !== null)(
    'AutoTokenizer.apply_chat_template gives our ids token for token',
    () => {
      const dir = join(mkdtempSync(join(tmpdir(), 'mtsa-hf-')), 'ckpt');
      saveCheckpoint(dir, { model: tinyModel(0, { vocabSize: tokenizer.vocabSize }), tokenizer, metadata: {}, chat: HF_CHAT_TEMPLATE });
      const result = spawnSync(venv!.python, ['-c', PY, dir, JSON.stringify(conversations)], { encoding: 'utf8', env: { ...process.env, TRANSFORMERS_VERBOSITY: 'error', HF_HUB_OFFLINE: '1' } });
      expect(result.status, result.stderr).toBe(0);
      const parsed = JSON.parse(result.stdout.trim().split('\n').pop()!) as { out: { ids: number[]; text: string; fromText: number[] }[]; eos: number; pad: number; bos: number };
      conversations.forEach((c, i) => {
        const ours = template.render(c.messages, c.generation ? 'assistant' : undefined).ids;
        expect(parsed.out[i].ids, c.name).toEqual(ours);
        expect(parsed.out[i].text, c.name).toBe(renderChatText(c.messages, c.generation ? 'assistant' : undefined));
        expect(parsed.out[i].fromText, c.name).toEqual(ours);
      });
      expect([parsed.eos, parsed.pad, parsed.bos]).toEqual([template.endId, template.padId, tokenizer.specialTokenId('<|bos|>')]);
    },
    120_000,
  );
});
