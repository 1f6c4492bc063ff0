import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { saveCheckpoint } from '../engine/checkpoint/hf-checkpoint.js';
import { tinyModel, tinyTokenizer } from '../testing/tiny.js';
import { exportOllama, ollamaModelfile } from './ollama.js';

// The golden Modelfile. The TEMPLATE walks .Messages: every message is <|role|>content<|end|>,
// except that a final assistant message stays open (Ollama's prefill); after a final non-assistant
// message the assistant turn is opened with <|assistant|>. ($last is true when the slice from $i
// on has one element, the idiom of Ollama's own Llama 3 template.)
const GOLDEN = `# Written by \`mtsa export ollama\`. Build with: ollama create NAME -f Modelfile
FROM ./model.gguf
TEMPLATE """{{- range $i, $m := .Messages }}{{- $last := eq (len (slice $.Messages $i)) 1 }}<|{{ $m.Role }}|>{{ $m.Content }}{{- if or (not $last) (ne $m.Role "assistant") }}<|end|>{{ end }}{{- if and $last (ne $m.Role "assistant") }}<|assistant|>{{ end }}{{- end }}"""
PARAMETER stop "<|end|>"
PARAMETER stop "<|user|>"
PARAMETER stop "<|assistant|>"
PARAMETER stop "<|system|>"
PARAMETER num_ctx 64
PARAMETER temperature 1
PARAMETER top_k 0
PARAMETER top_p 1
`;

describe('Ollama export', () => {
  it('writes model.gguf and the golden Modelfile', () => {
    const root = mkdtempSync(join(tmpdir(), 'mtsa-ollama-'));
    const tokenizer = tinyTokenizer(['hello there, how are you?', 'the cat sat on the mat'], 280);
    saveCheckpoint(join(root, 'ckpt'), {
      model: tinyModel(2, { vocabSize: 280, hiddenSize: 32, intermediateSize: 64, numHeads: 2, numKvHeads: 1 }),
      tokenizer,
      metadata: { chatTemplate: 'mtsa-chat-v1' },
    });
    const result = exportOllama(join(root, 'ckpt'), join(root, 'out'), { type: 'q8_0' });
    expect(readFileSync(join(root, 'out', 'Modelfile'), 'utf8')).toBe(GOLDEN);
    expect(result.modelfile).toBe(GOLDEN);
    expect(existsSync(join(root, 'out', 'model.gguf'))).toBe(true);
    expect(
      readFileSync(join(root, 'out', 'model.gguf'))
        .subarray(0, 4)
        .toString('latin1'),
    ).toBe('GGUF');
    expect(result.tensorTypes['blk.0.ffn_down.weight']).toBe('Q8_0');
    expect(result.tensorTypes['blk.0.attn_norm.weight']).toBe('F32');
  });

  it('the Go template is balanced: every {{ if }} / {{ range }} has its {{ end }}', () => {
    const template = /TEMPLATE """([\s\S]*?)"""/.exec(ollamaModelfile({ from: 'x', contextLength: 8 }))![1];
    const actions = [...template.matchAll(/\{\{-?\s*(\w+)/g)].map((m) => m[1]);
    const opened = actions.filter((a) => a === 'if' || a === 'range').length;
    expect(actions.filter((a) => a === 'end').length).toBe(opened);
  });
});
