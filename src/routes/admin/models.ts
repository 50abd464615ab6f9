// GET /admin/models: the prices in force, from the price table loaded at start (config/models.json).
// Token rates are billing tokens per 1,000,000 provider tokens; image prices and tool prices are
// billing tokens per image and per call. `enabled` says whether the model's provider is configured.
import { Hono } from 'hono';
import type { ModelPrice, PriceTable } from '../../billing/price-table.js';
import type { AppEnv } from '../../http/context.js';
import type { ProviderRegistry } from '../../providers/registry.js';

export const adminModels = new Hono<AppEnv>();

function enabled(providers: ProviderRegistry, model: ModelPrice): boolean {
  const provider = providers.get(model.provider);
  return (model.kind === 'image' ? provider?.images : model.kind === 'embedding' ? provider?.embeddings : provider) !== undefined;
}

export function modelPrices(prices: PriceTable, providers: ProviderRegistry) {
  return prices.all().map((model) => {
    const base = { id: model.id, kind: model.kind, provider: model.provider, upstreamModel: model.upstreamModel, enabled: enabled(providers, model) };
    if (model.kind === 'embedding') return { ...base, rates: { input: model.input }, encoding: model.encoding };
    if (model.kind === 'image') {
      return {
        ...base,
        imagePrices: model.imagePrices,
        defaultSize: model.defaultSize,
        defaultQuality: model.defaultQuality,
        maxImages: model.maxImages,
        tokenRates: model.tokenRates ?? null,
      };
    }
    return {
      ...base,
      rates: { input: model.input, cachedInput: model.cachedInput, output: model.output },
      maxOutputTokens: model.maxOutputTokens,
      contextWindow: model.contextWindow ?? null,
      reasoning: model.reasoning,
      encoding: model.encoding,
      imageTokens: model.imageTokens,
      // The table's tool prices with the model's own overrides: what a call of each tool costs here.
      toolPrices: prices.toolPrices(model),
    };
  });
}

adminModels.get('/models', (c) => {
  const { prices, providers } = c.get('deps');
  return c.json({ object: 'list', units: { rates: 'billing tokens per 1,000,000 provider tokens', imagePrices: 'billing tokens per image', toolPrices: 'billing tokens per call' }, data: modelPrices(prices, providers) });
});
