/**
 * Counting a text with tiktoken in work proportional to its length.
 *
 * tiktoken splits a text into pre-tokens with a regular expression, then runs byte-pair merging on
 * each pre-token, which is quadratic or worse in the pre-token's length: a 20k-character run of emoji
 * (one pre-token, no spaces) takes ~0.9 s, and a 2.5M-character one traps the WebAssembly. So the
 * text is cut into pieces at positions that are pre-token boundaries for certain, each piece is
 * encoded on its own, and a segment between two such positions that is longer than LONG_RUN
 * characters is not encoded at all but counted as its UTF-8 byte length.
 *
 * Why the sum is never below what the provider counts for the whole text:
 * - Every piece starts and ends at a pre-token boundary of the whole text, so the pre-tokenizer
 *   splits each piece exactly as it splits that stretch of the whole text (matching at a position
 *   depends only on the text from there on; the one look-ahead, `\s+(?!\S)`, matters only at a piece
 *   ending in whitespace, and no piece does). Byte-pair merging runs per pre-token, so the pieces'
 *   token counts add up to the whole text's count exactly.
 * - A long segment is bounded by its byte length: every token covers at least one byte.
 * (Merely cutting a long pre-token into pieces would not be a bound: merges across the cut can
 * leave more tokens than the pieces have, e.g. with merges bc < ab < cd, "abcd" is a|bc|d but
 * "ab" + "cd" is two tokens.)
 *
 * The positions used as cuts, for both o200k_base and cl100k_base (their patterns differ only in
 * ways these rules do not touch): a space or tab after a non-whitespace character (no pattern puts
 * a non-whitespace character and a following space or tab in one pre-token: the optional leading
 * space or tab belongs to the next word); a character that is not a letter, mark, number,
 * whitespace or apostrophe after a letter or number (letter runs continue only with letters, marks
 * or an apostrophe contraction; number runs only with numbers); a number after a letter, and a
 * letter after a number. Character classes are Unicode properties in both tiktoken and V8; a
 * character assigned in a newer Unicode version than tiktoken's tables is the only way they could
 * disagree (and then move the count by about one token where it stands next to a cut).
 *
 * This function is also the source of the counting worker (tokenizer-workers.ts sends its text
 * with Function.prototype.toString), so it must stay self-contained: no imports, no helpers from
 * this module, only its arguments and JavaScript built-ins (and Node's Buffer).
 */
export function countTextBounded(text: string, encode: (piece: string) => number): number {
  /** A segment longer than this (UTF-16 units) is counted as its UTF-8 bytes: ~1-2 µs a character at most to encode below it. */
  const LONG_RUN = 128;
  /** Pieces of short segments are encoded together up to this length, so a WASM call is not paid per word. */
  const PIECE = 2048;
  // No run in a text this short can be long, and it is one piece: the common case skips the scan.
  if (text.length <= LONG_RUN) return text === '' ? 0 : encode(text);
  // Each match is the character before a cut (the look-ahead checks the one after): matching the
  // character first and looking ahead is several times faster in V8 than a look-behind at every position.
  const cuts = /[^\s\p{White_Space}](?=[ \t])|[\p{L}\p{N}](?=[^\s\p{White_Space}\p{L}\p{M}\p{N}'])|\p{L}(?=\p{N})|\p{N}(?=\p{L})/gu;
  let tokens = 0;
  let pieceStart = 0;
  let segmentStart = 0;
  for (;;) {
    const match = cuts.exec(text);
    const cut = match === null ? text.length : match.index + match[0].length;
    if (cut - segmentStart > LONG_RUN) {
      if (segmentStart > pieceStart) tokens += encode(text.slice(pieceStart, segmentStart));
      tokens += Buffer.byteLength(text.slice(segmentStart, cut), 'utf8');
      pieceStart = cut;
    } else if (cut - pieceStart > PIECE) {
      if (segmentStart > pieceStart) tokens += encode(text.slice(pieceStart, segmentStart));
      pieceStart = segmentStart;
    }
    segmentStart = cut;
    if (match === null) break;
  }
  if (text.length > pieceStart) tokens += encode(text.slice(pieceStart));
  return tokens;
}
