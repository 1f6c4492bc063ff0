/**
 * Tests for GPT-2's byte-level layer: the byte alphabet against its definition (rebuilt
 * independently in the fixtures), pre-tokenisation that never drops text, the special-token
 * pattern, and UTF-8 edge cases (lone surrogates, byte order mark).
 */
import { describe, expect, it } from 'vitest';
import { ROUND_TRIP_SAMPLES, toByteLevel } from '../../testing/bpe-fixtures.js';
import { byteChar, bytesToTokenString, decodeUtf8, encodeUtf8, forEachPreToken, isByteChar, PRE_TOKEN_PATTERN, specialTokenPattern, tokenStringToBytes } from './byte-level.js';

const allBytes = Uint8Array.from({ length: 256 }, (_, byte) => byte);

describe('byte alphabet', () => {
  it('spells every byte as GPT-2 does: printable Latin-1 as itself, the rest from U+0100 up', () => {
    for (let byte = 0; byte < 256; byte++) expect(byteChar(byte), `byte ${byte}`).toBe(toByteLevel(String.fromCharCode(byte), true));
    expect(byteChar(0x20)).toBe('Ġ');
    expect(byteChar(0x0a)).toBe('Ċ');
    expect(byteChar(0x41)).toBe('A');
    expect(new Set(Array.from(allBytes, byteChar)).size).toBe(256);
  });

  it('maps bytes to a vocabulary string and back', () => {
    expect(tokenStringToBytes(bytesToTokenString(allBytes))).toEqual(allBytes);
    expect(bytesToTokenString(encodeUtf8(' café'))).toBe('ĠcafÃ©');
    expect(tokenStringToBytes('ĠcafÃ©')).toEqual(encodeUtf8(' café'));
  });

  it('gives undefined for a string with a character outside the alphabet', () => {
    expect(tokenStringToBytes('a€')).toBeUndefined();
    expect(tokenStringToBytes(' ')).toBeUndefined();
    expect(isByteChar('Ġ')).toBe(true);
    expect(isByteChar('Ġt')).toBe(false);
    expect(isByteChar(' ')).toBe(false);
  });
});

describe('pre-tokenisation', () => {
  const preTokens = (text: string): string[] => {
    const pieces: string[] = [];
    forEachPreToken(text, (piece) => pieces.push(piece));
    return pieces;
  };

  it('splits as GPT-2 does: contractions, a leading space kept with the word, trailing spaces apart', () => {
    expect(preTokens("it's  a test\n\n 42!")).toEqual(['it', "'s", ' ', ' a', ' test', '\n\n', ' 42', '!']);
  });

  it('covers every character: the pieces join to the input', () => {
    for (const text of ROUND_TRIP_SAMPLES) expect(preTokens(text).join('')).toBe(text);
  });

  it('agrees with matching the exported pattern directly', () => {
    for (const text of ROUND_TRIP_SAMPLES) expect(preTokens(text)).toEqual(Array.from(text.matchAll(PRE_TOKEN_PATTERN), (match) => match[0]));
  });
});

describe('special-token pattern', () => {
  it('is undefined without special tokens', () => {
    expect(specialTokenPattern([])).toBeUndefined();
  });

  it('matches the longest special token first and escapes regular-expression characters', () => {
    const pattern = specialTokenPattern(['<|a|>', '<|a|>x', '.*'])!;
    expect('q<|a|>x<|a|>.*a|b'.match(pattern)).toEqual(['<|a|>x', '<|a|>', '.*']);
  });
});

describe('UTF-8', () => {
  it('encodes a lone surrogate as U+FFFD and keeps a leading byte order mark', () => {
    expect(encodeUtf8('\uD83D')).toEqual(Uint8Array.of(0xef, 0xbf, 0xbd));
    expect(decodeUtf8(encodeUtf8('\uFEFFtext'))).toBe('\uFEFFtext');
    expect(decodeUtf8(encodeUtf8('🌸').slice(0, 2))).toBe('\uFFFD');
  });
});
