// The input tokens of an embeddings request, for its hold: token arrays count exactly, strings are
// counted with the model's tiktoken encoding (OpenAI's embedding models use cl100k_base, so this is
// the count the provider bills). Large inputs are counted off the event loop.
import { countTextsOffLoop } from './count-texts.js';
import type { TokenizerEncoding } from './tokenizer.js';

/** The `input` of an embeddings request after validation. */
export type EmbeddingInput = string | string[] | number[] | number[][];

export async function embeddingInputTokens(input: EmbeddingInput, encoding: TokenizerEncoding): Promise<number> {
  if (typeof input === 'string') return countTextsOffLoop([input], encoding);
  const texts: string[] = [];
  let tokens = 0;
  for (const entry of input) {
    if (typeof entry === 'string') texts.push(entry);
    else if (Array.isArray(entry)) tokens += entry.length;
    else tokens += 1; // one token id of a single token array
  }
  return tokens + (texts.length > 0 ? await countTextsOffLoop(texts, encoding) : 0);
}
