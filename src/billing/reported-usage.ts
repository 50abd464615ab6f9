// Pricing usage an app metered itself (POST /internal/usage) with the same price table and rules as
// proxied usage: token models by their per-million rates (SPEC 1), image models per image.
import { chargeFor } from './pricing.js';
import type { ModelPrice } from './price-table.js';

export interface ReportedUsage {
  inputTokens: number;
  cachedTokens: number;
  outputTokens: number;
  images: number;
  size?: string;
  quality?: string;
}

export type Priced = { ok: true; costTokens: number; rates: Record<string, unknown> } | { ok: false; param: string; message: string };

export function priceReportedUsage(model: ModelPrice, usage: ReportedUsage): Priced {
  if (usage.cachedTokens > usage.inputTokens) return { ok: false, param: 'cachedTokens', message: 'must not exceed inputTokens (cached tokens are part of the input)' };
  if (model.kind === 'chat') {
    if (usage.images > 0) return { ok: false, param: 'images', message: `the model '${model.id}' has no price per image` };
    const costTokens = chargeFor({ inputTokens: usage.inputTokens, cachedInputTokens: usage.cachedTokens, outputTokens: usage.outputTokens }, model);
    return { ok: true, costTokens, rates: { input: model.input, cachedInput: model.cachedInput, output: model.output, per: 1_000_000 } };
  }
  if (model.kind === 'image') {
    if (usage.images < 1) return { ok: false, param: 'images', message: `the model '${model.id}' is priced per image: give the number of images` };
    const sizes = Object.keys(model.imagePrices);
    if (!usage.size || !model.imagePrices[usage.size]) return { ok: false, param: 'size', message: `must be one of ${sizes.join(', ')} for '${model.id}'` };
    const qualities = model.imagePrices[usage.size]!;
    const perImage = usage.quality === undefined ? undefined : qualities[usage.quality];
    if (perImage === undefined) return { ok: false, param: 'quality', message: `must be one of ${Object.keys(qualities).join(', ')} for '${model.id}' at ${usage.size}` };
    return { ok: true, costTokens: perImage * usage.images, rates: { perImage, size: usage.size, quality: usage.quality } };
  }
  return { ok: false, param: 'model', message: `the model '${(model as { id: string }).id}' cannot be billed through this route` };
}
