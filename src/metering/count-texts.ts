// Counts a list of texts with tiktoken, off the event loop when they are large (SPEC 3.4: counting is
// not free). The same routing as the chat prompt measure (tokenizer.ts): small inputs inline, large
// ones in a worker; if the worker fails, the texts' UTF-8 size, an upper bound (every token is at least
// one byte), rather than blocking the event loop.
import { countTextsInWorker } from './tokenizer-workers.js';
import { countTokens, INLINE_COUNT_MAX_CHARS, type TokenizerEncoding } from './tokenizer.js';

export async function countTextsOffLoop(texts: readonly string[], encoding: TokenizerEncoding): Promise<number> {
  let length = 0;
  for (const text of texts) length += text.length;
  if (length <= INLINE_COUNT_MAX_CHARS) {
    let tokens = 0;
    for (const text of texts) tokens += countTokens(text, encoding);
    return tokens;
  }
  try {
    return await countTextsInWorker(texts, encoding);
  } catch {
    let bytes = 0;
    for (const text of texts) bytes += Buffer.byteLength(text, 'utf8');
    return bytes;
  }
}
