// Which adapter serves which provider name; a provider without configuration is simply absent (its
// models answer 400 model_not_available and are left out of GET /v1/models).
import type { Config } from '../config.js';
import { GeminiProvider } from './gemini/index.js';
import { GoogleImages, withImages } from './google-images/index.js';
import { MockProvider } from './mock/index.js';
import { OpenAIProvider } from './openai/index.js';
import type { ChatProvider } from './types.js';

export type ProviderRegistry = ReadonlyMap<string, ChatProvider>;

export function createProviderRegistry(config: Config): ProviderRegistry {
  const providers = new Map<string, ChatProvider>();
  const timeoutMs = config.UPSTREAM_TIMEOUT_MS;
  if (config.MOCK_PROVIDER === 'on') providers.set('mock', new MockProvider({ timeoutMs }));
  if (config.OPENAI_API_KEY) {
    providers.set('openai', new OpenAIProvider({ baseUrl: config.OPENAI_BASE_URL, apiKey: config.OPENAI_API_KEY, timeoutMs }));
  }
  if (config.GEMINI_API_KEY) {
    const google = { baseUrl: config.GEMINI_BASE_URL, apiKey: config.GEMINI_API_KEY, timeoutMs };
    // Gemini chat through @google/genai; image generation over plain HTTP (see google-images).
    providers.set('gemini', withImages(new GeminiProvider(google), new GoogleImages(google)));
  }
  return providers;
}
