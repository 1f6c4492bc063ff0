/**
 * Names shared by the configuration and the backends: the OpenAI-compatible server flavours.
 */
export const FLAVOURS = ['vllm', 'llama-cpp', 'ollama', 'transformers', 'openai', 'generic'] as const;
export type Flavour = (typeof FLAVOURS)[number];
