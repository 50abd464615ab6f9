import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { chooseImageOptions, imageHoldTokens, imagePrice, imageTokenCharge, perImageCharge, worstImagePrice } from '../../src/billing/image-pricing.js';
import { loadPriceTable, type ImageModel } from '../../src/billing/price-table.js';

const prices = loadPriceTable();
const GPT_IMAGE_1 = prices.image('gpt-image-1')!;
const DALL_E_3 = prices.image('dall-e-3')!;
const IMAGEN = prices.image('imagen-4.0-generate-001')!;
const FLASH_IMAGE = prices.image('gemini-2.5-flash-image')!;

describe('chooseImageOptions', () => {
  it.each([
    { name: 'defaults of an "auto" model', model: GPT_IMAGE_1, size: undefined, quality: undefined, expected: { ok: true, choice: { size: 'auto', quality: 'auto' } } },
    { name: 'defaults of a fixed model', model: DALL_E_3, size: null, quality: null, expected: { ok: true, choice: { size: '1024x1024', quality: 'standard' } } },
    { name: 'a priced pair', model: DALL_E_3, size: '1792x1024', quality: 'hd', expected: { ok: true, choice: { size: '1792x1024', quality: 'hd' } } },
    { name: 'auto size, fixed quality', model: GPT_IMAGE_1, size: 'auto', quality: 'low', expected: { ok: true, choice: { size: 'auto', quality: 'low' } } },
    { name: 'unknown size', model: IMAGEN, size: '1024x1536', quality: undefined, expected: { ok: false, param: 'size' } },
    { name: '"auto" where the model has none', model: IMAGEN, size: 'auto', quality: undefined, expected: { ok: false, param: 'size' } },
    { name: 'unknown quality', model: DALL_E_3, size: undefined, quality: 'high', expected: { ok: false, param: 'quality' } },
    { name: 'a quality of another model', model: IMAGEN, size: undefined, quality: 'hd', expected: { ok: false, param: 'quality' } },
  ])('$name', ({ model, size, quality, expected }) => {
    expect(chooseImageOptions(model, size, quality)).toMatchObject(expected);
  });
});

describe('worstImagePrice and imagePrice', () => {
  it.each([
    { name: 'exact', model: GPT_IMAGE_1, choice: { size: '1024x1024', quality: 'medium' }, expected: 42_000 },
    { name: 'auto quality spans the size', model: GPT_IMAGE_1, choice: { size: '1024x1024', quality: 'auto' }, expected: 167_000 },
    { name: 'auto size spans the quality', model: GPT_IMAGE_1, choice: { size: 'auto', quality: 'low' }, expected: 16_000 },
    { name: 'auto both: the dearest image', model: GPT_IMAGE_1, choice: { size: 'auto', quality: 'auto' }, expected: 250_000 },
    { name: 'one price for every size', model: IMAGEN, choice: { size: '768x1408', quality: 'standard' }, expected: 40_000 },
  ])('$name', ({ model, choice, expected }) => {
    expect(worstImagePrice(model, choice)).toBe(expected);
  });

  it('imagePrice is null for what is not priced', () => {
    expect(imagePrice(DALL_E_3, '1024x1792', 'hd')).toBe(120_000);
    expect(imagePrice(DALL_E_3, '1024x1536', 'hd')).toBeNull();
    expect(imagePrice(DALL_E_3, '1024x1024', 'auto')).toBeNull();
  });
});

describe('charges', () => {
  it('per image is an exact product', () => {
    expect(perImageCharge(0, 40_000)).toBe(0);
    expect(perImageCharge(3, 40_000)).toBe(120_000);
  });

  it.each([
    { name: 'gpt-image-1, 1024x1024 high', tokens: { textInputTokens: 40, imageInputTokens: 10, outputTokens: 4160 }, rates: GPT_IMAGE_1.tokenRates!, expected: 166_700 },
    { name: 'rounded up once, not per part', tokens: { textInputTokens: 1, imageInputTokens: 1, outputTokens: 0 }, rates: FLASH_IMAGE.tokenRates!, expected: 1 },
    { name: 'Gemini image: 1290 image tokens and 8 prompt tokens', tokens: { textInputTokens: 8, imageInputTokens: 0, outputTokens: 1290 }, rates: FLASH_IMAGE.tokenRates!, expected: 38_703 },
    { name: 'nothing', tokens: { textInputTokens: 0, imageInputTokens: 0, outputTokens: 0 }, rates: GPT_IMAGE_1.tokenRates!, expected: 0 },
  ])('tokens: $name', ({ tokens, rates, expected }) => {
    expect(imageTokenCharge(tokens, rates)).toBe(expected);
  });

  it('the hold is n images at the dearest price, plus the prompt text for token-billed models', () => {
    expect(imageHoldTokens(IMAGEN, { size: '1024x1024', quality: 'standard' }, 3, 500)).toBe(120_000);
    expect(imageHoldTokens(GPT_IMAGE_1, { size: 'auto', quality: 'auto' }, 2, 100)).toBe(2 * 250_000 + 500);
    // A token-billed image never costs more than its per-image price in output: the hold covers it.
    expect(imageTokenCharge({ textInputTokens: 0, imageInputTokens: 0, outputTokens: 6240 }, GPT_IMAGE_1.tokenRates!)).toBeLessThanOrEqual(250_000);
    expect(imageTokenCharge({ textInputTokens: 0, imageInputTokens: 0, outputTokens: 1290 }, FLASH_IMAGE.tokenRates!)).toBeLessThanOrEqual(39_000);
  });
});

describe('the price table refuses image models it could not price', () => {
  const base: Partial<ImageModel> = { id: 'img', kind: 'image', provider: 'openai', upstreamModel: 'img', maxImages: 1, imagePrices: { '1024x1024': { standard: 1 } } };
  it.each([
    { name: 'a default size without a price', model: { ...base, defaultSize: '512x512', defaultQuality: 'standard' }, message: 'defaultSize is not priced' },
    { name: 'a default quality without a price', model: { ...base, defaultSize: '1024x1024', defaultQuality: 'hd' }, message: 'defaultQuality is not priced' },
    { name: '"auto" default on a model without auto', model: { ...base, defaultSize: 'auto', defaultQuality: 'standard' }, message: 'defaultSize is not priced' },
    { name: 'no prices', model: { ...base, imagePrices: {}, defaultSize: '1024x1024', defaultQuality: 'standard' }, message: 'imagePrices is empty' },
  ])('$name', ({ model, message }) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tg-prices-'));
    try {
      const file = path.join(dir, 'models.json');
      writeFileSync(file, JSON.stringify({ models: [model] }));
      expect(() => loadPriceTable(file)).toThrow(message);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
