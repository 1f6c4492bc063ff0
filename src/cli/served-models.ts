/**
 * The model strings of `--judge` / `--attacker` / `--target` that name a model outside this process,
 * turned into backends through the per-role model specs (run/build-models.ts):
 *   `http://host:port/v1#model-name`  an OpenAI-compatible server (flavour generic; the key, if the
 *                                     server needs one, from the environment variable MTSA_API_KEY)
 *   `gguf:/path/model.gguf`          a GGUF file run in-process by llama.cpp
 *   `spec:/path/model.yaml`          any model spec in a YAML or JSON file ({kind: …, …})
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { tinyArenaConfig } from '../arena/config.js';
import { judgeFormatIssues, ModelSpecSchema, type ModelSpec } from '../config/model-spec.js';
import { formatIssues } from '../config/run-config.js';
import { ConfigError } from '../core/errors.js';
import type { ChatModel, CompletionModel } from '../core/models.js';
import { buildModel, judgeBackendOf } from '../run/build-models.js';
import type { ServedModels } from './judge-spec.js';

export const API_KEY_ENV = 'MTSA_API_KEY';

/** The model spec a served-model string names (pure: no file is read for the inline forms). */
export function servedModelSpec(text: string, readFile: (path: string) => string = (p) => readFileSync(p, 'utf8')): ModelSpec {
  const server = /^(https?:\/\/[^#\s]+)#(.+)$/.exec(text);
  if (server) return ModelSpecSchema.parse({ kind: 'openai-compatible', baseUrl: server[1], model: server[2] });
  if (text.startsWith('gguf:')) return ModelSpecSchema.parse({ kind: 'llama-cpp', path: text.slice('gguf:'.length) });
  if (text.startsWith('spec:')) {
    const path = text.slice('spec:'.length);
    let value: unknown;
    try {
      const raw = readFile(path);
      value = path.endsWith('.json') ? JSON.parse(raw) : parseYaml(raw);
    } catch (error) {
      throw new ConfigError(`${path}: cannot read the model spec (${(error as Error).message})`);
    }
    const parsed = ModelSpecSchema.safeParse(value);
    if (!parsed.success) throw new ConfigError(formatIssues(parsed.error, path));
    const [issue] = judgeFormatIssues(parsed.data);
    if (issue) throw new ConfigError(`${path}: field "${issue.field}": ${issue.message}`);
    return parsed.data;
  }
  throw new ConfigError(`"${text}" names no model: use http://host:port/v1#model-name (an OpenAI-compatible server), gguf:<file> (llama.cpp), spec:<file.yaml> (any model spec) or checkpoint:<dir>`);
}

/** ServedModels for the judge and Stage-1 commands, from the per-role model specs. */
export function servedModels(env: Readonly<Record<string, string | undefined>>): ServedModels {
  const specOf = (text: string): ModelSpec => {
    const spec = servedModelSpec(text);
    return spec.kind === 'openai-compatible' && !spec.apiKeyEnv && env[API_KEY_ENV] ? { ...spec, apiKeyEnv: API_KEY_ENV } : spec;
  };
  const context = (text: string, role: 'target' | 'judge') => ({
    role,
    arena: () => {
      throw new ConfigError(`"${text}": an arena model is named by arena-guard / arena:attacker, not here`);
    },
    arenaConfig: tinyArenaConfig(1),
    seed: 0,
    env,
    source: `model "${text}"`,
  });
  const build = (text: string): ChatModel & Partial<CompletionModel> => {
    const chat = buildModel(specOf(text), context(text, 'target')).chat;
    if (!chat) throw new ConfigError(`model "${text}" cannot generate text`);
    return chat as ChatModel & Partial<CompletionModel>;
  };
  return {
    chat: build,
    completion: (text) => {
      const model = build(text);
      if (typeof model.complete !== 'function') throw new ConfigError(`model "${text}" takes no raw prompts (completions); use a chat-based judge kind (e.g. llama-guard-3-text)`);
      return model as CompletionModel;
    },
    judgeBackend: (text) => judgeBackendOf(specOf(text), context(text, 'judge')),
  };
}
