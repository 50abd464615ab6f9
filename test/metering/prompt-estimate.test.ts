// The prompt estimate bounds every part of a chat prompt: images by their model's rule and pixel size,
// audio and files by their bytes, texts in bounded pieces, the whole by the model's context window.
import { afterAll, describe, expect, it } from 'vitest';
import { loadPriceTable, MOST_EXPENSIVE_IMAGE_RULE, type ChatModel, type ImageTokenRule } from '../../src/billing/price-table.js';
import {
  closeTokenizerWorkers,
  countTokens,
  estimatePromptTokens,
  measurePrompt,
  tokenizerStats,
  type PromptBody,
} from '../../src/metering/tokenizer.js';
import { imageSizeFromUrl, imageTokens, worstImageTokens } from '../../src/metering/tokenizer-images.js';
import { AUDIO_BYTES_PER_TOKEN, FILE_BYTES_PER_PAGE, FILE_TEXT_TOKENS_PER_BYTE } from '../../src/metering/tokenizer-prompt.js';
import { imageDataUrl, type ImageFormat } from '../helpers/images.js';

const prices = loadPriceTable();
const model = (id: string): ChatModel => prices.chat(id)!;
const tiles4o: ImageTokenRule = { kind: 'tiles', baseTokens: 85, tileTokens: 170 };
const patches = (multiplier: number): ImageTokenRule => ({ kind: 'patches', multiplier });

afterAll(async () => {
  await closeTokenizerWorkers();
});

describe('image rules (OpenAI images-vision guide, "Calculating costs")', () => {
  it.each([
    // The guide's own examples for the tile models.
    { rule: tiles4o, detail: 'high', size: [1024, 1024], tokens: 765 },
    { rule: tiles4o, detail: 'high', size: [2048, 4096], tokens: 1105 },
    { rule: tiles4o, detail: 'low', size: [4096, 8192], tokens: 85 },
    { rule: tiles4o, detail: 'auto', size: [512, 512], tokens: 255 },
    { rule: tiles4o, detail: 'high', size: [768, 2048], tokens: 85 + 8 * 170 },
    { rule: tiles4o, detail: 'high', size: [20000, 1000], tokens: 85 + 4 * 170 },
    { rule: MOST_EXPENSIVE_IMAGE_RULE, detail: 'high', size: [1024, 1024], tokens: 2833 + 4 * 5667 },
    { rule: MOST_EXPENSIVE_IMAGE_RULE, detail: 'low', size: [1024, 1024], tokens: 2833 },
    // Patch models: the guide's 1024x1024 example, and the multiplier rounded up.
    { rule: patches(1), detail: 'high', size: [1024, 1024], tokens: 1024 },
    { rule: patches(1.62), detail: 'high', size: [1024, 1024], tokens: 1659 },
    { rule: patches(1.62), detail: 'low', size: [1024, 1024], tokens: 1659 },
    { rule: patches(2.46), detail: 'high', size: [100, 50], tokens: Math.ceil(4 * 2 * 2.46) },
    { rule: patches(1.72), detail: 'high', size: [10000, 10000], tokens: Math.ceil(1536 * 1.72) },
  ] as const)('$rule.kind $detail $size -> $tokens', ({ rule, detail, size, tokens }) => {
    expect(imageTokens(rule, detail, { width: size[0], height: size[1] })).toBe(tokens);
  });

  it('bounds the guide\'s scaled-down patch example (1800x2400: 1452 tokens) by the 1536 cap', () => {
    const tokens = imageTokens(patches(1), 'high', { width: 1800, height: 2400 });
    expect(tokens).toBeGreaterThanOrEqual(1452);
    expect(tokens).toBeLessThanOrEqual(1536);
  });

  it('the worst case of every rule is the most an image can cost', () => {
    expect(worstImageTokens(tiles4o)).toBe(1445);
    expect(worstImageTokens(MOST_EXPENSIVE_IMAGE_RULE)).toBe(48_169);
    expect(worstImageTokens(patches(2.46))).toBe(3779);
    for (const [w, h] of [[1, 1], [768, 2048], [4096, 1024], [3000, 3000], [513, 1025]] as const) {
      expect(imageTokens(tiles4o, 'high', { width: w, height: h })).toBeLessThanOrEqual(worstImageTokens(tiles4o));
    }
  });

  it('every configured chat model has a rule (the default is the most expensive one)', () => {
    expect(model('gpt-4o').imageTokens).toEqual(tiles4o);
    expect(model('gpt-4.1-mini').imageTokens).toEqual(patches(1.62));
    expect(model('mock').imageTokens).toEqual(MOST_EXPENSIVE_IMAGE_RULE);
  });
});

describe('pixel size from a data URL', () => {
  it.each<ImageFormat>(['png', 'jpeg', 'gif', 'webp-vp8', 'webp-vp8l', 'webp-vp8x'])('%s', (format) => {
    expect(imageSizeFromUrl(imageDataUrl(format, 1234, 567))).toEqual({ width: 1234, height: 567 });
  });

  it.each([
    ['an http URL', 'https://example.com/cat.png'],
    ['an SVG', 'data:image/svg+xml;base64,' + Buffer.from('<svg width="1" height="1"/>').toString('base64')],
    ['a truncated PNG', imageDataUrl('png', 10, 10).slice(0, 40)],
    ['base64 broken by whitespace', imageDataUrl('png', 10, 10).replace(/(base64,.{8})/, '$1\n')],
    ['a zero-sized GIF', imageDataUrl('gif', 0, 10)],
  ])('unreadable: %s', (_name, url) => {
    expect(imageSizeFromUrl(url)).toBeNull();
  });
});

describe('measurePrompt', () => {
  const withParts = (...parts: unknown[]): PromptBody => ({ messages: [{ role: 'user', content: [{ type: 'text', text: 'Look.' }, ...parts] }] });
  const textOnly = withParts();

  it('images: the model\'s rule on the size in the data URL; http URLs at the worst case', async () => {
    const base = await measurePrompt(textOnly, model('gpt-4o')).count();
    const image = (url: string, detail?: string) => ({ type: 'image_url', image_url: { url, ...(detail ? { detail } : {}) } });
    const cases: Array<[string, unknown, number]> = [
      ['gpt-4o', image(imageDataUrl('png', 1024, 1024)), 765],
      ['gpt-4o', image(imageDataUrl('jpeg', 2048, 4096), 'high'), 1105],
      ['gpt-4o', image(imageDataUrl('png', 4096, 8192), 'low'), 85],
      ['gpt-4o', image('https://example.com/a.png'), 1445],
      ['gpt-4o-mini', image(imageDataUrl('gif', 1024, 1024)), 25_501],
      ['gpt-4.1-mini', image(imageDataUrl('webp-vp8x', 1024, 1024), 'low'), 1659],
      ['gpt-4.1-nano', image('https://example.com/a.png'), 3779],
    ];
    for (const [id, part, tokens] of cases) {
      expect(await measurePrompt(withParts(part), model(id)).count(), `${id} ${JSON.stringify(part).slice(0, 80)}`).toBe(base + tokens);
    }
  });

  it('audio: decoded bytes / AUDIO_BYTES_PER_TOKEN', async () => {
    const data = Buffer.alloc(100_000).toString('base64');
    const base = await measurePrompt(textOnly, model('gpt-4o')).count();
    const tokens = await measurePrompt(withParts({ type: 'input_audio', input_audio: { data, format: 'wav' } }), model('gpt-4o')).count();
    expect(tokens - base).toBe(Math.ceil(100_000 / AUDIO_BYTES_PER_TOKEN));
  });

  it('files: text by bytes plus a worst-case page image per FILE_BYTES_PER_PAGE bytes, capped by the context window', async () => {
    const file = (bytes: number) => ({ type: 'file', file: { filename: 'a.pdf', file_data: `data:application/pdf;base64,${Buffer.alloc(bytes, 7).toString('base64')}` } });
    const base = await measurePrompt(withParts({ type: 'file', file: { filename: 'a.pdf', file_data: '' } }), model('gpt-4o')).count();
    const small = await measurePrompt(withParts(file(3000)), model('gpt-4o')).count();
    expect(small - base).toBe(3000 * FILE_TEXT_TOKENS_PER_BYTE + Math.ceil(3000 / FILE_BYTES_PER_PAGE) * 1445);
    // 300 KB would be 300k text tokens and 293 pages: more than gpt-4o can take in, so the window caps it.
    expect(await measurePrompt(withParts(file(300_000)), model('gpt-4o')).count()).toBe(128_000);
    expect(await measurePrompt(withParts(file(300_000)), model('gpt-4.1')).count()).toBe(base + 300_000 + 293 * 1445);
  });

  it('caps any prompt at the model\'s context window', async () => {
    const huge = { messages: [{ role: 'user', content: 'word '.repeat(20_000) }] };
    expect(await measurePrompt(huge, model('gpt-3.5-turbo')).count()).toBe(16_385);
    expect(await measurePrompt(huge, model('gpt-4o')).count()).toBe(estimatePromptTokens(huge, 'o200k_base'));
  });

  it('predicted output is weighted by the output/input price ratio (it bills as output)', async () => {
    const prediction = 'const answer = 42;\n'.repeat(20);
    const plain = { messages: [{ role: 'user', content: 'Refactor.' }] };
    const gpt4o = model('gpt-4o');
    const extra = (await measurePrompt({ ...plain, prediction: { type: 'content', content: prediction } }, gpt4o).count()) - (await measurePrompt(plain, gpt4o).count());
    expect(extra).toBe(Math.ceil((countTokens(prediction, 'o200k_base') * gpt4o.output) / gpt4o.input));
  });

  it('the cheap bound is never below the count, for every kind of part and size', async () => {
    const bodies: PromptBody[] = [
      textOnly,
      { messages: [{ role: 'user', content: '数字と文字 '.repeat(5000) }], tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }] },
      { messages: [{ role: 'user', content: '😀'.repeat(50_000) }] },
      withParts({ type: 'image_url', image_url: { url: imageDataUrl('png', 900, 900) } }, { type: 'file', file: { file_data: Buffer.alloc(5000).toString('base64') } }),
    ];
    for (const body of bodies) {
      const measure = measurePrompt(body, model('gpt-4.1'));
      expect(measure.boundTokens).toBeGreaterThanOrEqual(await measure.count());
    }
  });

  it('a worker that fails leaves the cheap bound as the answer (never an inline count that could block)', async () => {
    const body = { messages: [{ role: 'user', content: 'The ledger is append-only. '.repeat(20_000) }] };
    const measure = measurePrompt(body, model('gpt-4o'));
    const before = tokenizerStats();
    const counting = measure.count();
    await closeTokenizerWorkers(); // the job in flight is rejected
    expect(await counting).toBe(measure.boundTokens);
    expect(tokenizerStats().workerFallbacks).toBe(before.workerFallbacks + 1);
    expect(await measurePrompt(body, model('gpt-4o')).count()).toBe(estimatePromptTokens(body, model('gpt-4o')));
  });
});
