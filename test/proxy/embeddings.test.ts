// POST /v1/embeddings through the real OpenAI SDK (issue 10): strings, arrays and token arrays; the
// SDK's default base64 encoding and float both pass through; `dimensions` too; billed once, from the
// provider's prompt_tokens at the model's input rate, operation `embedding`; held from the inputs' tokens.
import { describe, expect, it } from 'vitest';
import { loadPriceTable } from '../../src/billing/price-table.js';
import { chargeFor } from '../../src/billing/pricing.js';
import { countTokens } from '../../src/metering/tokenizer.js';
import { embeddingList, embeddingVector } from '../helpers/stub-openai-responses.js';
import { accountView, errorOf, funded, settledUsage, useProxyEnv, usageLedgerRows } from './support.js';

const env = useProxyEnv();

const SMALL = loadPriceTable().embedding('text-embedding-3-small')!;
const LARGE = loadPriceTable().embedding('text-embedding-3-large')!;
const embeddingCost = (tokens: number, rate: number) => chargeFor({ inputTokens: tokens, cachedInputTokens: 0, outputTokens: 0 }, { input: rate, cachedInput: rate, output: 0 });

function postEmbeddings(key: string, body: unknown): Promise<Response> {
  return fetch(`${env.gw.url}/v1/embeddings`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

describe('POST /v1/embeddings', () => {
  it('the SDK default (base64): passed through, decoded by the SDK to the provider floats; billed prompt_tokens', async () => {
    const start = 100_000;
    const { client, key, accountId } = await funded(env.gw, start);
    env.stub.enqueue((body) => ({ kind: 'json', body: embeddingList({ inputs: 2, encodingFormat: body.encoding_format, dimensions: 8, promptTokens: 60_001 }) }));

    const { data, response } = await client.embeddings.create({ model: 'text-embedding-3-large', input: ['first text', 'second text'] }).withResponse();

    expect(env.stub.requests[0]!.path).toBe('/embeddings');
    expect(env.stub.requests[0]!.body).toEqual({ model: 'text-embedding-3-large', input: ['first text', 'second text'], encoding_format: 'base64' });
    expect(data.data.map((d) => Array.from(d.embedding))).toEqual([embeddingVector(0, 8), embeddingVector(1, 8)]);
    // 60,001 tokens at 130,000 per million = 7,800.13 -> 7,801.
    const expected = embeddingCost(60_001, LARGE.input);
    expect(expected).toBe(7_801);
    expect(response.headers.get('x-tokengate-cost')).toBe('7801');
    const requestId = response.headers.get('x-request-id')!;
    const row = await settledUsage(env, requestId);
    expect(row).toMatchObject({ account_id: accountId, model: 'text-embedding-3-large', provider: 'openai', operation: 'embedding', input_tokens: 60_001, output_tokens: 0, cost: 7_801, usage_source: 'provider', status: 'ok', stream: false });
    expect(row.rates).toEqual({ input: 130_000, per: 1_000_000 });
    expect(await usageLedgerRows(env.sql, requestId)).toEqual([expect.objectContaining({ amount: -7_801 })]);
    expect(await accountView(env.gw, key)).toMatchObject({ balance: start - 7_801, held: 0 });
  });

  it('float encoding and dimensions pass through as the client sent them; x-tokengate-operation overrides the operation', async () => {
    const { client } = await funded(env.gw, 100_000);
    env.stub.enqueue((body) => ({ kind: 'json', body: embeddingList({ inputs: 1, encodingFormat: body.encoding_format, dimensions: 3, promptTokens: 5 }) }));
    const { data, response } = await client.embeddings
      .create({ model: 'text-embedding-3-small', input: 'hello world', encoding_format: 'float', dimensions: 3 }, { headers: { 'x-tokengate-operation': 'search-index' } })
      .withResponse();
    expect(env.stub.requests[0]!.body).toEqual({ model: 'text-embedding-3-small', input: 'hello world', encoding_format: 'float', dimensions: 3 });
    expect(data.data[0]!.embedding).toEqual(embeddingVector(0, 3));
    const row = await settledUsage(env, response.headers.get('x-request-id')!);
    expect(row).toMatchObject({ operation: 'search-index', input_tokens: 5, cost: embeddingCost(5, SMALL.input) });
  });

  it('token arrays are accepted and held by their length', async () => {
    const { key } = await funded(env.gw, 100_000);
    let answer!: () => void;
    env.stub.enqueue({ kind: 'json', body: embeddingList({ inputs: 2, promptTokens: 7 }), after: new Promise<void>((resolve) => (answer = resolve)) });
    const pending = postEmbeddings(key, { model: 'text-embedding-3-small', input: [[1, 2, 3], [4, 5, 6, 7]], encoding_format: 'float' });
    await env.stub.waitForRequests(1);
    expect((await accountView(env.gw, key)).held).toBe(embeddingCost(7, SMALL.input));
    answer();
    expect((await pending).status).toBe(200);
  });

  it('the hold is the inputs’ tokens: an account that cannot pay them gets 402 and the provider is not called', async () => {
    const { key } = await funded(env.gw, 10);
    const text = 'lorem ipsum dolor sit amet '.repeat(20_000);
    const tokens = countTokens(text, 'cl100k_base');
    expect(embeddingCost(tokens, LARGE.input)).toBeGreaterThan(10);
    const response = await postEmbeddings(key, { model: 'text-embedding-3-large', input: text });
    expect(response.status).toBe(402);
    expect(await errorOf(response)).toMatchObject({ code: 'insufficient_balance' });
    expect(env.stub.requests).toHaveLength(0);
  });

  it('no usage in the answer: billed the counted input tokens, as estimated', async () => {
    const { client } = await funded(env.gw, 100_000);
    const answer = embeddingList({ inputs: 1, encodingFormat: 'float', promptTokens: 0 });
    delete answer.usage;
    env.stub.enqueue({ kind: 'json', body: answer });
    const input = 'The gateway counts this text itself.';
    const { response } = await client.embeddings.create({ model: 'text-embedding-3-small', input, encoding_format: 'float' }).withResponse();
    const row = await settledUsage(env, response.headers.get('x-request-id')!);
    expect(row).toMatchObject({ usage_source: 'estimated', input_tokens: countTokens(input, 'cl100k_base') });
  });

  const invalid: [string, unknown, string, string][] = [
    ['an empty input', { model: 'text-embedding-3-small', input: '' }, 'input', 'invalid_request'],
    ['an empty array', { model: 'text-embedding-3-small', input: [] }, 'input', 'invalid_request'],
    ['a bad encoding_format', { model: 'text-embedding-3-small', input: 'x', encoding_format: 'int8' }, 'encoding_format', 'invalid_request'],
    ['a chat model', { model: 'gpt-4o-mini', input: 'x' }, 'model', 'model_not_found'],
    ['an unknown model', { model: 'text-embedding-9', input: 'x' }, 'model', 'model_not_found'],
  ];
  it.each(invalid)('%s: 400 naming the parameter, nothing held', async (_name, body, param, code) => {
    const { key } = await funded(env.gw, 1_000);
    const response = await postEmbeddings(key, body);
    expect(response.status).toBe(400);
    expect(await errorOf(response)).toMatchObject({ param, code });
    expect(env.stub.requests).toHaveLength(0);
    expect(await accountView(env.gw, key)).toMatchObject({ balance: 1_000, held: 0 });
  });
});
