/**
 * What differs between OpenAI-compatible servers where it matters to MTSA: how a reply can be
 * made to begin with a prefill, and which sampling fields the server accepts. The same table is in
 * docs/real-models.md.
 */

import type { Flavour } from '../../core/backends.js';

export type { Flavour } from '../../core/backends.js';

export interface FlavourTraits {
  /**
   * How `prefill` reaches a chat server: vLLM's `continue_final_message` with a trailing assistant
   * message, a trailing assistant message the server continues (llama.cpp, Ollama), or not at all
   * (free generation; the attacker's parser and its bounded retries handle the format).
   */
  chatPrefill: 'continue-final-message' | 'trailing-assistant' | 'none';
  /** send top_k 0 / min_p 0 so the server's own defaults do not filter the distribution */
  neutralFilters: boolean;
  /** the server rejects fields outside the OpenAI schema (transformers serve answers 422) */
  strictFields: boolean;
}

export const FLAVOUR_TRAITS: Record<Flavour, FlavourTraits> = {
  vllm: { chatPrefill: 'continue-final-message', neutralFilters: true, strictFields: false },
  'llama-cpp': { chatPrefill: 'trailing-assistant', neutralFilters: true, strictFields: false },
  ollama: { chatPrefill: 'trailing-assistant', neutralFilters: false, strictFields: false },
  transformers: { chatPrefill: 'none', neutralFilters: false, strictFields: true },
  openai: { chatPrefill: 'none', neutralFilters: false, strictFields: true },
  generic: { chatPrefill: 'none', neutralFilters: false, strictFields: true },
};
