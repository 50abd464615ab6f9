// The price table (config/models.json, SPEC section 1), validated at start and read-only afterwards.
import { readFileSync } from 'node:fs';
import { z } from 'zod';

const rate = z.number().int().nonnegative();
const tokenCount = z.number().int().nonnegative().max(1_000_000);

/**
 * How a model's provider turns an input image into prompt tokens (OpenAI's published rules; see
 * src/metering/tokenizer-images.ts). `tiles`: base + per 512 px tile after fitting the image in
 * 2048x2048 and its short side in 768 px (`detail: low` costs the base). `patches`: 32 px patches,
 * at most 1536, times the model's multiplier (a decimal with at most two places, as OpenAI
 * publishes it; applied in integer hundredths). Patch models ignore `detail`.
 */
const imageRuleSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('tiles'), baseTokens: tokenCount, tileTokens: tokenCount }),
  z.object({
    kind: z.literal('patches'),
    multiplier: z
      .number()
      .positive()
      .max(100)
      .refine((m) => Math.abs(m * 100 - Math.round(m * 100)) < 1e-9, 'must have at most two decimal places'),
  }),
]);

export type ImageTokenRule = z.infer<typeof imageRuleSchema>;

/**
 * The rule for a model that names none: the most expensive OpenAI publishes (gpt-4o-mini's tiles,
 * 8,500 to 48,169 tokens an image), so an image never costs more than its hold assumed.
 */
export const MOST_EXPENSIVE_IMAGE_RULE: ImageTokenRule = { kind: 'tiles', baseTokens: 2833, tileTokens: 5667 };

const chatModelSchema = z.object({
  id: z.string().min(1),
  kind: z.literal('chat').default('chat'),
  provider: z.enum(['openai', 'gemini', 'mock']),
  upstreamModel: z.string().min(1),
  encoding: z.enum(['o200k_base', 'cl100k_base']),
  input: rate,
  cachedInput: rate,
  output: rate,
  maxOutputTokens: z.number().int().positive(),
  /** Thinks in tokens it does not stream: without reported usage it is billed its output cap. */
  reasoning: z.boolean().default(false),
  /** The provider refuses (and does not bill) a prompt longer than this, so no prompt is held for more. */
  contextWindow: z.number().int().positive().max(100_000_000).optional(),
  imageTokens: imageRuleSchema.default(MOST_EXPENSIVE_IMAGE_RULE),
});

/** "auto" lets the provider choose a size or quality: the hold assumes the dearest. */
export const AUTO = 'auto';

/**
 * Image models (SPEC 1): a price per image by size, then quality, in billing tokens. Where the
 * provider reports token usage for images (gpt-image-1, Gemini image output), `tokenRates` bill from
 * those tokens instead; the per-image prices then size the hold and bill an answer without usage.
 */
const imageModelSchema = z
  .object({
    id: z.string().min(1),
    kind: z.literal('image'),
    provider: z.enum(['openai', 'gemini', 'mock']),
    upstreamModel: z.string().min(1),
    imagePrices: z.record(z.string(), z.record(z.string(), rate)),
    /** What a request without `size` / `quality` gets: a priced one, or "auto" when `auto` is true. */
    defaultSize: z.string().min(1),
    defaultQuality: z.string().min(1),
    /** Whether "auto" is accepted for size and quality. */
    auto: z.boolean().default(false),
    /** The most images one request may ask for (`n`). */
    maxImages: z.number().int().positive().max(10),
    /** Billing tokens per 1,000,000 tokens: text and image input, and output. */
    tokenRates: z.object({ textInput: rate, imageInput: rate, output: rate }).optional(),
    /** Estimates the prompt's text tokens for the hold when `tokenRates` apply. */
    encoding: z.enum(['o200k_base', 'cl100k_base']).default('o200k_base'),
  })
  .superRefine((model, ctx) => {
    const sizes = Object.keys(model.imagePrices);
    const qualities = new Set(Object.values(model.imagePrices).flatMap((byQuality) => Object.keys(byQuality)));
    if (sizes.length === 0) ctx.addIssue({ code: 'custom', message: `${model.id}: imagePrices is empty`, path: ['imagePrices'] });
    const known = (value: string, names: Iterable<string>) => (model.auto && value === AUTO) || [...names].includes(value);
    if (!known(model.defaultSize, sizes)) ctx.addIssue({ code: 'custom', message: `${model.id}: defaultSize is not priced`, path: ['defaultSize'] });
    if (!known(model.defaultQuality, qualities)) ctx.addIssue({ code: 'custom', message: `${model.id}: defaultQuality is not priced`, path: ['defaultQuality'] });
  });

const modelSchema = z.union([chatModelSchema, imageModelSchema]);
const fileSchema = z.object({ models: z.array(modelSchema).min(1) });

export type ChatModel = z.infer<typeof chatModelSchema>;
export type ImageModel = z.infer<typeof imageModelSchema>;
export type ImageTokenRates = NonNullable<ImageModel['tokenRates']>;
export type ModelPrice = ChatModel | ImageModel;
export type Rates = Pick<ChatModel, 'input' | 'cachedInput' | 'output'>;

export class PriceTable {
  private readonly byId: Map<string, ModelPrice>;

  constructor(models: ModelPrice[]) {
    this.byId = new Map(models.map((m) => [m.id, m]));
  }

  chat(id: string): ChatModel | undefined {
    const model = this.byId.get(id);
    return model?.kind === 'chat' ? model : undefined;
  }

  image(id: string): ImageModel | undefined {
    const model = this.byId.get(id);
    return model?.kind === 'image' ? model : undefined;
  }

  all(): ModelPrice[] {
    return [...this.byId.values()];
  }
}

const DEFAULT_FILE = new URL('../../config/models.json', import.meta.url);

export function loadPriceTable(file: URL | string = DEFAULT_FILE): PriceTable {
  const parsed = fileSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  return new PriceTable(parsed.models);
}
