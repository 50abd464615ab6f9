// The price table (config/models.json, SPEC section 1), validated at start and read-only afterwards.
import { readFileSync } from 'node:fs';
import { z } from 'zod';

const rate = z.number().int().nonnegative();

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
});

const imageModelSchema = z.object({
  id: z.string().min(1),
  kind: z.literal('image'),
  provider: z.enum(['openai', 'gemini', 'mock']),
  upstreamModel: z.string().min(1),
  imagePrices: z.record(z.string(), z.record(z.string(), rate)),
});

const modelSchema = z.union([chatModelSchema, imageModelSchema]);
const fileSchema = z.object({ models: z.array(modelSchema).min(1) });

export type ChatModel = z.infer<typeof chatModelSchema>;
export type ImageModel = z.infer<typeof imageModelSchema>;
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

  all(): ModelPrice[] {
    return [...this.byId.values()];
  }
}

const DEFAULT_FILE = new URL('../../config/models.json', import.meta.url);

export function loadPriceTable(file: URL | string = DEFAULT_FILE): PriceTable {
  const parsed = fileSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  return new PriceTable(parsed.models);
}
