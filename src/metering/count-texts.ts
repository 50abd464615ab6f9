// Counts a list of texts with tiktoken, off the event loop when they are large (SPEC 3.4: counting is
// not free). The same routing as the chat prompt estimate: small inputs inline, large ones in a worker,
// inline again if the worker fails (the count must not fail the request).
import { countTextsInWorker } from './tokenizer-workers.js';
import { countTokens, INLINE_COUNT_MAX_CHARS, type TokenizerEncoding } from './tokenizer.js';

export async function countTextsOffLoop(texts: readonly string[], encoding: TokenizerEncoding): Promise<number> {
  let length = 0;
  for (const text of texts) length += text.length;
  if (length < INLINE_COUNT_MAX_CHARS) return countInline(texts, encoding);
  try {
    return await countTextsInWorker(texts, encoding);
  } catch {
    return countInline(texts, encoding);
  }
}

function countInline(texts: readonly string[], encoding: TokenizerEncoding): number {
  let tokens = 0;
  for (const text of texts) tokens += countTokens(text, encoding);
  return tokens;
}
