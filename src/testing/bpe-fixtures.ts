/**
 * Shared inputs for the byte-level BPE tests: a small deterministic multilingual chat corpus with
 * placeholder objectives, the special tokens, and the GPT-2 byte alphabet rebuilt independently
 * from its definition (a reference for the tests, not used by the tokenizer).
 */

export const SPECIAL_TOKENS = ['<|pad|>', '<|end|>', '<|user|>', '<|assistant|>', '<|system|>'];

export function makeCorpus(documentCount: number): string[] {
  const subjects = ['the assistant', 'a user', 'the model', 'Élodie', '東京の人', 'the café'];
  const verbs = ['refuses', 'explains', 'describes', 'declines', 'rewrites'];
  const objects = ['a harmful request', 'the safety guidelines', 'a poem about 🌸', 'the 2025 results', '优化算法'];
  const documents: string[] = [];
  for (let i = 0; i < documentCount; i++) {
    const subject = subjects[i % subjects.length];
    const verb = verbs[(i * 7) % verbs.length];
    const object = objects[(i * 3) % objects.length];
    documents.push(
      `<|system|>You are a helpful, harmless assistant.\n<|user|>Tell me how ${subject} ${verb} ${object} (case ${i % 97}).\n` +
        `<|assistant|>Sure: ${subject} ${verb} ${object}; I can't help with more.\t\n<|end|>`,
    );
  }
  return documents;
}

/** texts every tokenizer must round-trip: Unicode, emoji sequences, whitespace runs, contractions, control characters */
export const ROUND_TRIP_SAMPLES = [
  '',
  'Hello, world!',
  'The assistant refuses a harmful request.',
  'Crème brûlée, naïve façade, Ångström',
  '東京の人は优化算法を説明します。',
  'emoji 🌸🚀 and 👩‍👩‍👧‍👦 (ZWJ family) and 🇫🇷 flags, skin tone 👍🏽',
  'line one\nline two\r\n\ttabbed\t\tcolumns',
  'runs   of     spaces    \n\n\n   trailing   ',
  "contractions: it's, we're, they've, I'm, you'll, he'd, don't",
  '\uFEFFstarts with a byte order mark',
  '\u0000 control \u0007 chars \u007f and \u00a0 nbsp',
  'numbers 1234567890 ٣٤٥ and symbols @#$%^&*()_+{}|:"<>?',
];

export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

/** The GPT-2 byte alphabet rebuilt from its definition; `single` maps one char code as one byte. */
export function toByteLevel(text: string, single = false): string {
  const printable = (byte: number): boolean => (byte >= 0x21 && byte <= 0x7e) || (byte >= 0xa1 && byte <= 0xac) || (byte >= 0xae && byte <= 0xff);
  const shifted = new Map<number, number>();
  let next = 256;
  for (let byte = 0; byte < 256; byte++) if (!printable(byte)) shifted.set(byte, next++);
  const bytes = single ? [text.charCodeAt(0)] : [...utf8(text)];
  return bytes.map((byte) => String.fromCharCode(printable(byte) ? byte : shifted.get(byte)!)).join('');
}
