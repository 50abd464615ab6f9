// Per-call tool prices (issue 10): which tools a request may use, the worst case of their calls, and
// the calls a response reports.
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPriceTable } from '../../src/billing/price-table.js';
import { checkTools, toolKey, ToolBilling } from '../../src/billing/tool-prices.js';

const PRICES = { web_search: 10_000, web_search_preview: 25_000, file_search: 2_500, code_interpreter: 30_000, mcp: 0 };

describe('checkTools', () => {
  it('client tools are free; priced built-in tools are accepted with their price', () => {
    const check = checkTools([{ type: 'function', name: 'f' }, { type: 'custom', name: 'c' }, { type: 'web_search_2025_08_26' }, { type: 'file_search' }], PRICES);
    expect(check.ok && check.billing.prices).toEqual({ web_search: 10_000, file_search: 2_500 });
  });

  it('a built-in tool without a price is refused, naming its position', () => {
    expect(checkTools([{ type: 'function', name: 'f' }, { type: 'image_generation' }], PRICES)).toEqual({ ok: false, index: 1, type: 'image_generation' });
    expect(checkTools([{ type: 'computer_use_preview' }], PRICES)).toMatchObject({ ok: false, index: 0 });
  });

  it('a price of 0 is a price: the tool is allowed and bills nothing per call', () => {
    const check = checkTools([{ type: 'mcp', server_label: 'x' }], PRICES);
    expect(check.ok && check.billing.billsCalls).toBe(false);
  });

  it('a price key is the tool type without its date', () => {
    expect(toolKey('web_search_preview_2025_03_11')).toBe('web_search_preview');
    expect(toolKey('code_interpreter')).toBe('code_interpreter');
  });
});

describe('ToolBilling', () => {
  it('holds calls at the dearest tool of the request', () => {
    expect(new ToolBilling({ web_search: 10_000, file_search: 2_500 }).holdFor(10)).toBe(100_000);
    expect(new ToolBilling({}).holdFor(10)).toBe(0);
  });

  it('counts the reported calls by tool; a call two tools share is billed as the dearer', () => {
    const billing = new ToolBilling({ web_search: 10_000, web_search_preview: 25_000, file_search: 2_500 });
    const calls = billing.callsIn([{ type: 'web_search_call' }, { type: 'web_search_call' }, { type: 'file_search_call' }, { type: 'message' }, { type: 'function_call' }]);
    expect(calls).toEqual({ web_search_preview: 2, file_search: 1 });
    expect(billing.costOf(calls)).toBe(52_500);
  });

  it('code interpreter is billed per container', () => {
    const billing = new ToolBilling({ code_interpreter: 30_000 });
    const calls = billing.callsIn([
      { type: 'code_interpreter_call', container_id: 'cntr_a' },
      { type: 'code_interpreter_call', container_id: 'cntr_a' },
      { type: 'code_interpreter_call', container_id: 'cntr_b' },
      { type: 'code_interpreter_call' },
    ]);
    expect(calls).toEqual({ code_interpreter: 3 });
  });
});

describe('toolPrices in config/models.json', () => {
  function tableFrom(json: unknown) {
    const file = path.join(tmpdir(), `models-${process.pid}-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify(json));
    return loadPriceTable(file);
  }
  const chat = { id: 'm', provider: 'openai', upstreamModel: 'm', encoding: 'o200k_base', input: 1, cachedInput: 1, output: 1, maxOutputTokens: 10 };

  it('top-level prices apply to every chat model; a model’s own override them', () => {
    const table = tableFrom({ toolPrices: { web_search: 10_000, file_search: 2_500 }, models: [chat, { ...chat, id: 'n', toolPrices: { web_search: 7 } }] });
    expect(table.toolPrices(table.chat('m')!)).toEqual({ web_search: 10_000, file_search: 2_500 });
    expect(table.toolPrices(table.chat('n')!)).toEqual({ web_search: 7, file_search: 2_500 });
  });

  it.each([
    ['a fractional price', { toolPrices: { web_search: 0.5 }, models: [chat] }],
    ['a negative price', { toolPrices: { web_search: -1 }, models: [chat] }],
    ['a tool name that is not a tool type', { toolPrices: { 'Web Search': 1 }, models: [chat] }],
  ])('refuses %s at start', (_name, json) => {
    expect(() => tableFrom(json)).toThrow();
  });

  it('the shipped table prices the built-in tools the issue names, and has embedding models', () => {
    const table = loadPriceTable();
    expect(Object.keys(table.toolPrices(table.chat('gpt-4o-mini')!)).sort()).toEqual(['code_interpreter', 'file_search', 'image_generation', 'web_search', 'web_search_preview']);
    expect(table.embedding('text-embedding-3-small')).toMatchObject({ kind: 'embedding', input: 20_000, encoding: 'cl100k_base' });
  });
});
