/**
 * Names shared by the configuration and the backends: the OpenAI-compatible server flavours and
 * the judge formats a model can be given.
 */
export const FLAVOURS = ['vllm', 'llama-cpp', 'ollama', 'transformers', 'openai', 'generic'] as const;
export type Flavour = (typeof FLAVOURS)[number];

/**
 * Judge formats (src/run/judge-formats.ts): the prompt and verdict reader put on a model. `prompt`
 * is the generic one-word judge; `arena-guard` the arena guard's own format; the `-text` kinds
 * read the generated verdict where a server returns no log-probs.
 */
export const JUDGE_FORMATS = ['prompt', 'arena-guard', 'llama-guard-3', 'llama-guard-3-text', 'llama-guard-4', 'llama-guard-4-text', 'harmbench', 'strongreject', 'rubric'] as const;
export type JudgeFormat = (typeof JUDGE_FORMATS)[number];

/** Formats whose verdict comes from first-token log-probs only (undetermined without them). */
export const LOGPROB_ONLY_FORMATS = ['llama-guard-3', 'llama-guard-4'] as const satisfies readonly JudgeFormat[];
