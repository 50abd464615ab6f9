import { describe, expect, it } from 'vitest';
import { generatedFromCompletion } from '../../src/metering/completion.js';

function completion(choices: unknown[]): unknown {
  return { id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'gpt-4o-mini', choices, usage: null };
}

describe('generatedFromCompletion', () => {
  it.each([
    {
      name: 'text content',
      json: completion([{ index: 0, message: { role: 'assistant', content: 'Hello there.' }, finish_reason: 'stop' }]),
      expected: { content: 'Hello there.', toolCalls: [] },
    },
    {
      name: 'a refusal',
      json: completion([{ index: 0, message: { role: 'assistant', content: null, refusal: 'I cannot help.' } }]),
      expected: { content: 'I cannot help.', toolCalls: [] },
    },
    {
      name: 'function and custom tool calls',
      json: completion([
        {
          index: 0,
          message: {
            role: 'assistant',
            content: null,
            tool_calls: [
              { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
              { id: 'call_2', type: 'custom', custom: { name: 'run_sql', input: 'select 1' } },
            ],
          },
        },
      ]),
      expected: {
        content: '',
        toolCalls: [
          { name: 'get_weather', arguments: '{"city":"Paris"}' },
          { name: 'run_sql', arguments: 'select 1' },
        ],
      },
    },
    {
      name: 'a legacy function_call',
      json: completion([{ index: 0, message: { role: 'assistant', content: null, function_call: { name: 'f', arguments: '{}' } } }]),
      expected: { content: '', toolCalls: [{ name: 'f', arguments: '{}' }] },
    },
    {
      name: 'several choices, each kept whole',
      json: completion([
        { index: 0, message: { role: 'assistant', content: 'One.' } },
        { index: 1, message: { role: 'assistant', content: 'Two.' } },
      ]),
      expected: { content: 'One.\nTwo.', toolCalls: [] },
    },
  ])('extracts $name', ({ json, expected }) => {
    expect(generatedFromCompletion(json)).toEqual(expected);
  });

  it.each([
    { name: 'null', json: null },
    { name: 'an error body', json: { error: { message: 'boom' } } },
    { name: 'choices not an array', json: { choices: 'x' } },
    { name: 'malformed choices', json: completion([null, { message: 'text' }, { message: { content: 7, tool_calls: [null, { function: 3 }] } }]) },
  ])('returns nothing for $name', ({ json }) => {
    expect(generatedFromCompletion(json)).toEqual({ content: '', toolCalls: [] });
  });
});
