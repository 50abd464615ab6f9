// GET /v1/models and GET /v1/models/{id} in OpenAI's shape: every priced model (chat, embedding,
// image) whose provider is enabled and that the key may use; `owned_by` names the provider.
import type { Context } from 'hono';
import type { ModelPrice } from '../../billing/price-table.js';
import type { AppEnv } from '../../http/context.js';
import { ApiError } from '../../http/errors.js';

export interface ModelObject {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
}

/** Listed when the model's provider is configured and serves the model's kind, and the key may use it. */
function available(c: Context<AppEnv>, model: ModelPrice): boolean {
  const allowed = c.get('auth').key.models;
  const provider = c.get('deps').providers.get(model.provider);
  const serves = model.kind === 'image' ? provider?.images : model.kind === 'embedding' ? provider?.embeddings : provider;
  return serves !== undefined && (!allowed || allowed.includes(model.id));
}

const view = (model: ModelPrice): ModelObject => ({ id: model.id, object: 'model', created: 0, owned_by: model.provider });

export function listModels(c: Context<AppEnv>): Response {
  const data = c
    .get('deps')
    .prices.all()
    .filter((model) => available(c, model))
    .map(view);
  return c.json({ object: 'list', data });
}

export function retrieveModel(c: Context<AppEnv>): Response {
  const id = c.req.param('id') ?? '';
  const model = c.get('deps').prices.model(id);
  // Unknown, not enabled, or not allowed to this key: the same answer, so a key learns nothing more.
  if (!model || !available(c, model)) {
    throw new ApiError(404, 'model_not_found', `The model '${id}' does not exist or you do not have access to it.`, 'invalid_request_error', 'model');
  }
  return c.json(view(model));
}
