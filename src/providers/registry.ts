// Which adapter serves which provider name; a provider without configuration is simply absent.
import type { Config } from '../config.js';
import { MockProvider } from './mock/index.js';
import { OpenAIProvider } from './openai/index.js';
import type { ChatProvider } from './types.js';

export type ProviderRegistry = ReadonlyMap<string, ChatProvider>;

export function createProviderRegistry(config: Config): ProviderRegistry {
  const providers = new Map<string, ChatProvider>([['mock', new MockProvider()]]);
  if (config.OPENAI_API_KEY) {
    providers.set('openai', new OpenAIProvider({ baseUrl: config.OPENAI_BASE_URL, apiKey: config.OPENAI_API_KEY, timeoutMs: config.UPSTREAM_TIMEOUT_MS }));
  }
  return providers;
}
