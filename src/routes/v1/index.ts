// The OpenAI-compatible surface: thin handlers over the metered operations of src/proxy/.
import { Hono, type Context } from 'hono';
import type { AppEnv } from '../../http/context.js';
import { handleChatCompletion } from '../../proxy/chat-completions.js';
import { handleImageGeneration } from '../../proxy/images.js';
import { handleEmbeddings } from '../../proxy/embeddings.js';
import { handleResponses } from '../../proxy/responses-api.js';
import { handleStoredResponse } from '../../proxy/responses-stored.js';
import { meteredRequest } from './metered-request.js';
import { listModels, retrieveModel } from './models.js';

export const v1Routes = new Hono<AppEnv>();

v1Routes.post('/chat/completions', async (c) => handleChatCompletion(c.get('deps'), await meteredRequest(c)));
v1Routes.post('/responses', async (c) => handleResponses(c.get('deps'), await meteredRequest(c)));
v1Routes.get('/responses/:id', (c) => storedResponse(c, 'GET', ''));
v1Routes.delete('/responses/:id', (c) => storedResponse(c, 'DELETE', ''));
v1Routes.get('/responses/:id/input_items', (c) => storedResponse(c, 'GET', '/input_items'));
v1Routes.post('/embeddings', async (c) => handleEmbeddings(c.get('deps'), await meteredRequest(c)));
v1Routes.get('/models', listModels);
// Model ids may hold slashes and colons (fine-tunes): the rest of the path is the id.
v1Routes.get('/models/:id{.+}', retrieveModel);

v1Routes.post('/images/generations', async (c) => handleImageGeneration(c.get('deps'), await meteredRequest(c)));

function storedResponse(c: Context<AppEnv>, method: 'GET' | 'DELETE', subresource: '' | '/input_items'): Promise<Response> {
  const url = c.req.url;
  const queryStart = url.indexOf('?');
  return handleStoredResponse(c.get('deps'), {
    accountId: c.get('auth').accountId,
    requestId: c.get('requestId'),
    method,
    responseId: c.req.param('id') ?? '',
    subresource,
    query: queryStart === -1 ? '' : url.slice(queryStart),
    signal: c.req.raw.signal,
  });
}
