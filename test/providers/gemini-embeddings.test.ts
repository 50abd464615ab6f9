// Gemini embeddings behind POST /v1/embeddings with the openai SDK (issue 10): one string goes to
// embedContent, an array to batchEmbedContents; `dimensions` becomes outputDimensionality; the answer
// is OpenAI's list, as base64 (the SDK's default, decoded by the SDK) or floats. Google reports no
// token counts, so the charge is the gateway's own count of the inputs, marked estimated, and the
// answer's usage says the same number.
import { describe, expect, it } from 'vitest';
import { loadPriceTable } from '../../src/billing/price-table.js';
import { chargeFor } from '../../src/billing/pricing.js';
import { countTokens } from '../../src/metering/tokenizer.js';
import { DEFAULT_EMBEDDING_DIMENSIONS, embeddingValues, googleError } from '../helpers/stub-gemini.js';
import { accountView, errorOf, expectNotBilled, funded, settledUsage, usageLedgerRows } from '../proxy/support.js';
import { sdkError, useGeminiEnv } from './support.js';

const env = useGeminiEnv();
const MODEL = 'gemini-embedding-001';
const EMBEDDING = loadPriceTable().embedding(MODEL)!;
const tokensOf = (...texts: string[]) => texts.reduce((sum, text) => sum + countTokens(text, 'o200k_base'), 0);
const embeddingCost = (tokens: number) => chargeFor({ inputTokens: tokens, cachedInputTokens: 0, outputTokens: 0 }, { input: EMBEDDING.input, cachedInput: EMBEDDING.input, output: 0 });

function postEmbeddings(key: string, body: unknown): Promise<Response> {
  return fetch(`${env.gw.url}/v1/embeddings`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

describe('Gemini embeddings', () => {
  it('one string, the SDK default (base64): embedContent, decoded by the SDK to Google\'s floats; billed the counted tokens, estimated', async () => {
    const start = 100_000;
    const { client, key, accountId } = await funded(env.gw, start);
    const input = 'The quick brown fox jumps over the lazy dog.';

    const { data, response } = await client.embeddings.create({ model: MODEL, input }).withResponse();

    const [sent] = env.gemini.requests;
    expect(sent).toMatchObject({ model: MODEL, method: 'embedContent', path: `/v1beta/models/${MODEL}:embedContent` });
    expect(sent!.headers['x-goog-api-key']).toBe(env.gemini.apiKey);
    expect(sent!.body).toEqual({ content: { parts: [{ text: input }] } });
    expect(data.object).toBe('list');
    expect(data.model).toBe(MODEL);
    expect(data.data).toHaveLength(1);
    expect(Array.from(data.data[0]!.embedding)).toEqual(embeddingValues(0, DEFAULT_EMBEDDING_DIMENSIONS));

    const tokens = tokensOf(input);
    expect(data.usage).toEqual({ prompt_tokens: tokens, total_tokens: tokens });
    expect(response.headers.get('x-tokengate-usage-source')).toBe('estimated');
    const requestId = response.headers.get('x-request-id')!;
    const row = await settledUsage(env, requestId);
    expect(row).toMatchObject({ account_id: accountId, model: MODEL, provider: 'gemini', operation: 'embedding', input_tokens: tokens, output_tokens: 0, cost: embeddingCost(tokens), usage_source: 'estimated', status: 'ok', stream: false });
    expect(row.rates).toEqual({ input: 150_000, per: 1_000_000 });
    expect(response.headers.get('x-tokengate-cost')).toBe(String(row.cost));
    expect(await usageLedgerRows(env.sql, requestId)).toHaveLength(1);
    expect(await accountView(env.gw, key)).toMatchObject({ balance: start - row.cost, held: 0 });
  });

  it('a batch with float encoding and dimensions: batchEmbedContents with outputDimensionality per request, floats in input order', async () => {
    const { client } = await funded(env.gw, 100_000);
    const inputs = ['first text', 'second text', 'third text'];
    const { data, response } = await client.embeddings.create({ model: MODEL, input: inputs, encoding_format: 'float', dimensions: 8 }).withResponse();

    const [sent] = env.gemini.requests;
    expect(sent).toMatchObject({ method: 'batchEmbedContents', path: `/v1beta/models/${MODEL}:batchEmbedContents` });
    expect(sent!.body).toEqual({ requests: inputs.map((text) => ({ model: `models/${MODEL}`, content: { parts: [{ text }] }, outputDimensionality: 8 })) });
    expect(data.data).toEqual(inputs.map((_, index) => ({ object: 'embedding', index, embedding: embeddingValues(index, 8) })));
    const row = await settledUsage(env, response.headers.get('x-request-id')!);
    expect(row).toMatchObject({ input_tokens: tokensOf(...inputs), cost: embeddingCost(tokensOf(...inputs)), usage_source: 'estimated' });
  });

  it('base64 is little-endian float32, as OpenAI encodes it', async () => {
    const { key } = await funded(env.gw, 100_000);
    const response = await postEmbeddings(key, { model: MODEL, input: 'x', encoding_format: 'base64', dimensions: 4 });
    const body = (await response.json()) as { data: { embedding: string }[] };
    const bytes = Buffer.from(body.data[0]!.embedding, 'base64');
    expect(bytes).toHaveLength(16);
    expect([0, 1, 2, 3].map((i) => bytes.readFloatLE(i * 4))).toEqual(embeddingValues(0, 4));
  });

  it.each([
    ['token arrays (OpenAI token ids mean nothing to Google)', { input: [[1, 2, 3]] }],
    ['more than 100 inputs (Google\'s batch limit)', { input: Array.from({ length: 101 }, (_, i) => `text ${i}`) }],
  ])('%s: 400 naming input, Google not called, nothing billed', async (_name, extra) => {
    const { key } = await funded(env.gw, 100_000);
    const response = await postEmbeddings(key, { model: MODEL, ...extra });
    expect(response.status).toBe(400);
    expect(await errorOf(response)).toMatchObject({ type: 'invalid_request_error', param: 'input' });
    expect(env.gemini.requests).toHaveLength(0);
    await expectNotBilled(env, response.headers.get('x-request-id')!);
    expect(await accountView(env.gw, key)).toMatchObject({ balance: 100_000, held: 0 });
  });

  it('user is accepted and named as ignored', async () => {
    const { key } = await funded(env.gw, 100_000);
    const response = await postEmbeddings(key, { model: MODEL, input: 'x', user: 'u-1', encoding_format: 'float' });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-tokengate-ignored-params')).toBe('user');
    expect(env.gemini.requests[0]!.body).toEqual({ content: { parts: [{ text: 'x' }] } });
  });

  it.each([
    [429, 'RESOURCE_EXHAUSTED', 'rate_limit_exceeded'],
    [400, 'INVALID_ARGUMENT', 'invalid_argument'],
  ])('Google %i %s: OpenAI\'s error shape with Google\'s status, nothing billed', async (status, googleStatus, code) => {
    const { client, key } = await funded(env.gw, 100_000);
    env.gemini.enqueue(googleError(status, googleStatus, 'Quota exceeded for project_number:123456789.'));
    const error = await sdkError(client.embeddings.create({ model: MODEL, input: ['a', 'b'] }));
    expect(error.status).toBe(status);
    expect(error.error).toMatchObject({ code });
    await expectNotBilled(env, error.requestID!);
    expect(await accountView(env.gw, key)).toMatchObject({ balance: 100_000, held: 0 });
  });

  it('an answer without the embeddings asked for is 502 upstream_malformed, nothing billed', async () => {
    const { key } = await funded(env.gw, 100_000);
    env.gemini.enqueue({ kind: 'json', body: { embeddings: [{ values: [0.5] }] } });
    const response = await postEmbeddings(key, { model: MODEL, input: ['a', 'b'] });
    expect(response.status).toBe(502);
    expect(await errorOf(response)).toMatchObject({ code: 'upstream_malformed' });
    await expectNotBilled(env, response.headers.get('x-request-id')!);
  });
});
