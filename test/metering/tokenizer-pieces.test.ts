// Counting in bounded pieces: exact for ordinary text (cuts only at pre-token boundaries), the UTF-8
// byte count (an upper bound) for runs too long to encode cheaply, and no encode call on a long run.
import { get_encoding } from 'tiktoken';
import { describe, expect, it } from 'vitest';
import { countTextBounded } from '../../src/metering/tokenizer-pieces.js';

const encodings = ['o200k_base', 'cl100k_base'] as const;

// Fragments chosen to sit on every rule: spaces and tabs, newlines, contractions, letters next to
// digits and punctuation, marks, CJK, emoji, non-ASCII whitespace, supplementary-plane letters.
const ATOMS = [
  ' ', '  ', '\t', '\n', '\r\n', '\n\n', ' \n', 'hello', 'World', "don't", "it's", "I'M", 'ABCdef', 'x', '123', '4567', '3.14',
  ',', '.', '!', '?', ':', '"', "'", '{"a":1}', '/', '//', 'http://ex.com/a?b=c', '😀', '🎉🎉', '中文', '，', '。', 'é', 'e\u0301',
  'Ⅻ', '½', '²', '\u00a0', '\u3000', '\u0085', '\ufeff', '\u200d', 'ß', 'İ', 'ǅ', '-', '--', '_', '=', '==', 'aGVsbG8=', 'x9',
  '9x', '#', '...', '\t\t', '   x', 'Ω', 'ф', 'ﬁ', '𝐀', '𝐀b', 'a𝐀', '\u0301', '(', ')', '[', ']',
];

/** A deterministic pseudo-random text (so a failure can be reproduced). */
function randomText(seed: number, length: number): string {
  let state = seed;
  let text = '';
  while (text.length < length) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    text += ATOMS[state % ATOMS.length];
  }
  return text;
}

describe.each(encodings)('countTextBounded (%s)', (name) => {
  const encoder = get_encoding(name);
  const encode = (piece: string) => encoder.encode_ordinary(piece).length;

  it('is exact on ordinary text of any length: pieces are cut only at pre-token boundaries', () => {
    for (let seed = 1; seed <= 400; seed++) {
      const text = randomText(seed, (seed * 37) % 5000);
      expect(countTextBounded(text, encode), JSON.stringify(text.slice(0, 200))).toBe(encode(text));
    }
    const prose = 'The ledger is append-only; corrections are new rows (see SPEC 2.1), 42 times.\n'.repeat(500);
    expect(countTextBounded(prose, encode)).toBe(encode(prose));
    const minifiedJson = JSON.stringify(Array.from({ length: 500 }, (_, i) => ({ id: `item${i}`, value: i * 3.5, tags: ['a', 'b'] })));
    expect(countTextBounded(minifiedJson, encode)).toBe(encode(minifiedJson));
  });

  it('bounds a long run without boundaries by its UTF-8 bytes, never below the exact count, without encoding it', () => {
    for (const run of ['😀🎉🚀🧠'.repeat(1000), '数'.repeat(3000), 'ACGT'.repeat(2000)]) {
      const pieces: number[] = [];
      const counted = countTextBounded(`Look: ${run} done`, (piece) => (pieces.push(piece.length), encode(piece)));
      expect(counted).toBe(encode('Look:') + Buffer.byteLength(` ${run}`) + encode(' done'));
      expect(counted).toBeGreaterThanOrEqual(encode(`Look: ${run} done`));
      expect(Math.max(...pieces)).toBeLessThanOrEqual(5);
    }
  });

  it('never hands the encoder a piece over 2048 characters', () => {
    const pieces: number[] = [];
    countTextBounded(randomText(7, 200_000), (piece) => (pieces.push(piece.length), encode(piece)));
    expect(Math.max(...pieces)).toBeLessThanOrEqual(2048);
  });
});

it('counts a 2.5M-character emoji prompt (a WebAssembly trap when encoded whole) as its bytes', () => {
  const encoder = get_encoding('o200k_base');
  const text = '😀'.repeat(1_250_000);
  expect(countTextBounded(text, (piece) => encoder.encode_ordinary(piece).length)).toBe(5_000_000);
});
