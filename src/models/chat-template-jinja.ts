/**
 * The project's chat template (models/chat-template.ts, `mtsa-chat-v1`) written for other
 * runtimes: a Jinja template (GGUF `tokenizer.chat_template`, HF `tokenizer_config.json`) and an
 * Ollama Modelfile TEMPLATE (Go text/template). Both render the same text our ChatTemplate renders
 * as tokens: per message `<|role|>content<|end|>`, then `<|assistant|>` as the generation prompt.
 *
 * One difference cannot be expressed in a text template: our renderer encodes message content
 * with special tokens disabled, while a runtime that tokenises the rendered text with special
 * parsing on turns a literal "<|end|>" inside content into the control token.
 */

/**
 * Jinja (HF / llama.cpp / node-llama-cpp dialect). `add_generation_prompt` opens an assistant
 * turn; the non-standard `generation_role` variable (e.g. 'user' for the MTSA attacker) opens that
 * role's turn instead, for runtimes that pass extra variables.
 */
export const MTSA_CHAT_TEMPLATE_JINJA =
  '{%- for message in messages -%}' +
  "{{- '<|' + message['role'] + '|>' + message['content'] + '<|end|>' -}}" +
  '{%- endfor -%}' +
  "{%- if generation_role is defined and generation_role -%}{{- '<|' + generation_role + '|>' -}}" +
  "{%- elif add_generation_prompt -%}{{- '<|assistant|>' -}}{%- endif -%}";

/**
 * Ollama Modelfile TEMPLATE (Go template over `.Messages`). Ollama always expects to generate an
 * assistant turn, so the prompt ends with `<|assistant|>`; when the last message is already an
 * assistant message (Ollama's prefill), it is left open instead of closed with `<|end|>`.
 */
export const MTSA_CHAT_TEMPLATE_OLLAMA =
  '{{- range $i, $m := .Messages }}' +
  '{{- $last := eq (len (slice $.Messages $i)) 1 }}' +
  '<|{{ $m.Role }}|>{{ $m.Content }}' +
  '{{- if or (not $last) (ne $m.Role "assistant") }}<|end|>{{ end }}' +
  '{{- if and $last (ne $m.Role "assistant") }}<|assistant|>{{ end }}' +
  '{{- end }}';
