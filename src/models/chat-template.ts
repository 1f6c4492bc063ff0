/**
 * How messages become tokens for the project's own models: each message is its role's special
 * token, its content, and `<|end|>`. The generation prompt is a bare role token, and that role may
 * be `user`: the MTSA attacker speaks as the user (docs/method.md §3.4, G14), so sampling,
 * SFT and DPO all render the attacker's turn as a user message.
 */
import type { Message, Role } from '../core/message.js';
import type { ByteLevelBpeTokenizer } from '../engine/tokenizer/byte-level-bpe.js';

export const CHAT_TEMPLATE_ID = 'mtsa-chat-v1';

/** Special tokens every project tokenizer carries, in id order. */
export const SPECIAL_TOKENS = ['<|pad|>', '<|end|>', '<|system|>', '<|user|>', '<|assistant|>', '<|bos|>'] as const;

const ROLE_TOKEN: Record<Role, string> = { system: '<|system|>', user: '<|user|>', assistant: '<|assistant|>' };

export interface RenderedChat {
  ids: number[];
  /** token range [start, end) of each message's content plus its closing <|end|> */
  spans: { message: number; role: Role; start: number; end: number }[];
}

export class ChatTemplate {
  readonly id = CHAT_TEMPLATE_ID;
  readonly endId: number;
  readonly padId: number;
  private readonly roleIds: Record<Role, number>;

  constructor(readonly tokenizer: ByteLevelBpeTokenizer) {
    this.endId = tokenizer.specialTokenId('<|end|>');
    this.padId = tokenizer.specialTokenId('<|pad|>');
    this.roleIds = {
      system: tokenizer.specialTokenId(ROLE_TOKEN.system),
      user: tokenizer.specialTokenId(ROLE_TOKEN.user),
      assistant: tokenizer.specialTokenId(ROLE_TOKEN.assistant),
    };
  }

  private lineBreaks?: readonly number[];

  /** Every (non-special) token whose text contains a line break: where `afterFirstLine` is forced in. */
  lineBreakTokens(): readonly number[] {
    if (!this.lineBreaks) {
      const ids: number[] = [];
      for (let id = 0; id < this.tokenizer.vocabSize; id++) if (id !== this.endId && this.tokenizer.decode([id], { skipSpecial: true }).includes('\n')) ids.push(id);
      this.lineBreaks = ids;
    }
    return this.lineBreaks;
  }

  /** Content is encoded as plain text: a message cannot smuggle in special tokens. */
  encodeContent(content: string): number[] {
    return this.tokenizer.encode(content, { allowSpecial: false });
  }

  /**
   * Tokens for `messages`, then (if given) the generation prompt that opens a turn for
   * `generationRole`.
   */
  render(messages: readonly Message[], generationRole?: Role): RenderedChat {
    const ids: number[] = [];
    const spans: RenderedChat['spans'] = [];
    messages.forEach((message, index) => {
      ids.push(this.roleIds[message.role]);
      const start = ids.length;
      for (const id of this.encodeContent(message.content)) ids.push(id);
      ids.push(this.endId);
      spans.push({ message: index, role: message.role, start, end: ids.length });
    });
    if (generationRole) ids.push(this.roleIds[generationRole]);
    return { ids, spans };
  }

  /** Tokens of one turn's content as a completion (content + <|end|>), for scoring. */
  completion(content: string): number[] {
    return [...this.encodeContent(content), this.endId];
  }

  /** Text of generated tokens, without the closing <|end|>. */
  decode(ids: readonly number[]): string {
    const cut = ids.indexOf(this.endId);
    return this.tokenizer.decode(cut >= 0 ? ids.slice(0, cut) : ids, { skipSpecial: true });
  }
}

/** The template as text (role tokens spelled out): what a server's tokenizer turns into the same ids as render(). */
export function renderChatText(messages: readonly Message[], generationRole?: Role): string {
  return messages.map((m) => `${ROLE_TOKEN[m.role]}${m.content}<|end|>`).join('') + (generationRole ? ROLE_TOKEN[generationRole] : '');
}

/**
 * The same template in Jinja, for tokenizer_config.json: `apply_chat_template` with
 * `add_generation_prompt` renders exactly render(messages, 'assistant').
 */
export const CHAT_TEMPLATE_JINJA =
  "{%- for message in messages -%}{{ '<|' + message['role'] + '|>' + message['content'] + '<|end|>' }}{%- endfor -%}{%- if add_generation_prompt -%}{{ '<|assistant|>' }}{%- endif -%}";

/** The template and its special tokens for a Hugging Face checkpoint (tokenizer_config.json). */
export const HF_CHAT_TEMPLATE = { jinja: CHAT_TEMPLATE_JINJA, bos: '<|bos|>', eos: '<|end|>', pad: '<|pad|>' } as const;
