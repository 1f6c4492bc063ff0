/**
 * How a role names a GGUF model run in-process by llama.cpp (through node-llama-cpp): the file,
 * the context and the CPU threads. The per-role model-spec union adds this variant under
 * kind 'llama-cpp'.
 */
import { z } from 'zod';

export const LlamaCppModelSpecSchema = z
  .object({
    kind: z.literal('llama-cpp'),
    /** path of the .gguf file */
    path: z.string().min(1),
    /** id used in records and reports (default: llama-cpp:<file name>) */
    id: z.string().min(1).optional(),
    /** tokens per sequence; llama.cpp may round it up (default: the model's training context, at most 4096) */
    contextSize: z.number().int().positive().optional(),
    /** sequences decoded together in one batch (parallel requests) */
    batch: z.number().int().positive().max(256).default(8),
    /** CPU threads (default: llama.cpp's choice for this machine) */
    threads: z.number().int().positive().optional(),
    /** KV cache precision: f16 is llama.cpp's default; f32 reproduces an f32 model's log-probs to ~1e-5 */
    kvCache: z.enum(['f16', 'f32']).default('f16'),
    /**
     * Which chat template renders prompts: 'auto' uses ours (token-exact) for GGUFs exported by
     * mtsa and the file's own `tokenizer.chat_template` otherwise.
     */
    template: z.enum(['auto', 'mtsa', 'gguf']).default('auto'),
    /** seed for requests that carry none */
    seed: z.number().int().nonnegative().default(0),
  })
  .strict();

export type LlamaCppModelSpec = z.infer<typeof LlamaCppModelSpecSchema>;
export type LlamaCppModelSpecInput = z.input<typeof LlamaCppModelSpecSchema>;
