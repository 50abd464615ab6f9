// Request bodies whose real prompt_tokens OpenAI reported, from the OpenAI Cookbook's
// "How to count tokens with tiktoken" (sections 6 and 7); they anchor the estimates to the API.

export const cookbookMessages = [
  { role: 'system', content: 'You are a helpful, pattern-following assistant that translates corporate jargon into plain English.' },
  { role: 'system', name: 'example_user', content: 'New synergies will help drive top-line growth.' },
  { role: 'system', name: 'example_assistant', content: 'Things working well together will increase revenue.' },
  { role: 'system', name: 'example_user', content: "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage." },
  { role: 'system', name: 'example_assistant', content: "Let's talk later when we're less busy about how to do better." },
  { role: 'user', content: "This late pivot means we don't have time to boil the ocean for the client deliverable." },
] as const;

/** prompt_tokens the API reported for cookbookMessages. */
export const cookbookMessagesApiTokens = { cl100k_base: 129, o200k_base: 124 } as const;

export const cookbookTools = [
  {
    type: 'function',
    function: {
      name: 'get_current_weather',
      description: 'Get the current weather in a given location',
      parameters: {
        type: 'object',
        properties: {
          location: { type: 'string', description: 'The city and state, e.g. San Francisco, CA' },
          unit: { type: 'string', description: 'The unit of temperature to return', enum: ['celsius', 'fahrenheit'] },
        },
        required: ['location'],
      },
    },
  },
] as const;

export const cookbookToolMessages = [
  { role: 'system', content: 'You are a helpful assistant that can answer to questions about the weather.' },
  { role: 'user', content: "What's the weather like in San Francisco?" },
] as const;

/** prompt_tokens the API reported for cookbookToolMessages with cookbookTools. */
export const cookbookToolsApiTokens = { cl100k_base: 105, o200k_base: 101 } as const;
