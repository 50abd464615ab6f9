// The OpenAI-compatible surface: thin handlers over the proxy core.
import { Hono } from 'hono';
import { requireKey } from '../../http/auth.js';
import type { AppEnv } from '../../http/context.js';
import { handleChatCompletion } from '../../proxy/chat-completions.js';
import { handleImageGeneration } from '../../proxy/images.js';
import { meteredRequest } from './metered-request.js';

export const v1Routes = new Hono<AppEnv>();

v1Routes.use('*', requireKey('any'));

v1Routes.post('/chat/completions', async (c) => handleChatCompletion(c.get('deps'), await meteredRequest(c)));

v1Routes.post('/images/generations', async (c) => handleImageGeneration(c.get('deps'), await meteredRequest(c)));

v1Routes.get('/models', (c) => {
  const { prices, providers } = c.get('deps');
  const allowed = c.get('auth').key.models;
  const data = prices
    .all()
    // A model is listed when its provider is configured and serves the model's kind.
    .filter((m) => (m.kind === 'chat' ? providers.has(m.provider) : providers.get(m.provider)?.images !== undefined) && (!allowed || allowed.includes(m.id)))
    .map((m) => ({ id: m.id, object: 'model' as const, created: 0, owned_by: m.provider }));
  return c.json({ object: 'list', data });
});
