/**
 * GPT-2's byte-level layer, shared by training, encoding and the tokenizer.json reader: the
 * bytes ↔ printable-character alphabet that vocabulary strings are spelled in, UTF-8 in and out,
 * and pre-tokenisation (special tokens cut out first, then GPT-2's regular-expression split).
 */

/**
 * GPT-2's pre-tokenisation pattern. Every character falls in one of \s, \p{L}, \p{N} or the
 * complement class, so the alternatives cover the whole input.
 */
export const PRE_TOKEN_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/**
 * GPT-2's bytes-to-unicode table: printable Latin-1 bytes stand for themselves, the other 68 bytes
 * are shifted to U+0100 upwards, so every token is a printable string and JSON vocabularies stay readable.
 */
function buildByteTables(): { byteToChar: string[]; charToByte: Map<string, number> } {
  const printable: number[] = [];
  for (let byte = 0x21; byte <= 0x7e; byte++) printable.push(byte);
  for (let byte = 0xa1; byte <= 0xac; byte++) printable.push(byte);
  for (let byte = 0xae; byte <= 0xff; byte++) printable.push(byte);
  const byteToChar: string[] = new Array(256);
  for (const byte of printable) byteToChar[byte] = String.fromCharCode(byte);
  let shifted = 0;
  for (let byte = 0; byte < 256; byte++) {
    if (byteToChar[byte] === undefined) byteToChar[byte] = String.fromCharCode(256 + shifted++);
  }
  const charToByte = new Map<string, number>();
  byteToChar.forEach((char, byte) => charToByte.set(char, byte));
  return { byteToChar, charToByte };
}

const { byteToChar: BYTE_TO_CHAR, charToByte: CHAR_TO_BYTE } = buildByteTables();

/** The one-character vocabulary string of a byte (0..255). */
export function byteChar(byte: number): string {
  return BYTE_TO_CHAR[byte];
}

/** True when `text` is one character of the byte alphabet, i.e. the vocabulary string of a single byte. */
export function isByteChar(text: string): boolean {
  return CHAR_TO_BYTE.has(text);
}

/** Vocabulary string of a byte sequence in GPT-2's byte-level alphabet. */
export function bytesToTokenString(bytes: Uint8Array): string {
  let text = '';
  for (const byte of bytes) text += BYTE_TO_CHAR[byte];
  return text;
}

/**
 * Bytes of a vocabulary string in GPT-2's byte-level alphabet (as stored in tokenizer.json and
 * GGUF vocabularies); undefined when the string contains a character outside that alphabet.
 */
export function tokenStringToBytes(token: string): Uint8Array | undefined {
  const bytes = new Uint8Array(token.length);
  for (let i = 0; i < token.length; i++) {
    const byte = CHAR_TO_BYTE.get(token[i]);
    if (byte === undefined) return undefined;
    bytes[i] = byte;
  }
  return bytes;
}

const utf8Encoder = new TextEncoder();
// ignoreBOM: a leading U+FEFF is content and must survive the round trip.
const utf8Decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/** UTF-8 bytes of `text`; TextEncoder turns lone surrogates into U+FFFD, so any JS string encodes. */
export function encodeUtf8(text: string): Uint8Array {
  return utf8Encoder.encode(text);
}

/** Text of UTF-8 bytes; invalid sequences (a token sequence cut inside a character) become U+FFFD, never an error. */
export function decodeUtf8(bytes: Uint8Array): string {
  return utf8Decoder.decode(bytes);
}

export function concatBytes(left: Uint8Array, right: Uint8Array): Uint8Array {
  const joined = new Uint8Array(left.length + right.length);
  joined.set(left, 0);
  joined.set(right, left.length);
  return joined;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A global pattern matching any of the special tokens, longest first so that a special token that
 * prefixes another never shadows it; undefined when there are none.
 */
export function specialTokenPattern(specialTokens: readonly string[]): RegExp | undefined {
  if (specialTokens.length === 0) return undefined;
  const alternatives = [...specialTokens]
    .sort((a, b) => b.length - a.length)
    .map(escapeRegExp)
    .join('|');
  return new RegExp(alternatives, 'gu');
}

/** Calls `visit` for each pre-token of `text`, in order. */
export function forEachPreToken(text: string, visit: (preToken: string) => void): void {
  const pattern = new RegExp(PRE_TOKEN_PATTERN.source, PRE_TOKEN_PATTERN.flags);
  let position = 0;
  let match: RegExpExecArray | null;
  while ((match = pattern.exec(text)) !== null) {
    // Defensive: the pattern covers every character, but a gap must never silently drop text.
    if (match.index > position) visit(text.slice(position, match.index));
    visit(match[0]);
    position = match.index + match[0].length;
  }
  if (position < text.length) visit(text.slice(position));
}
