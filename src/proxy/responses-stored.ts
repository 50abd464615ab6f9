// GET /v1/responses/{id}, DELETE /v1/responses/{id} and GET /v1/responses/{id}/input_items: reads of
// responses stored at the provider, allowed only to the account that created them. Anything else is
// 404 without asking the provider (400 for the id of a response never stored: a Gemini one). Not
// metered: the provider does not bill them.
import type { Deps } from '../deps.js';
import { jsonResponse, upstreamErrorBody } from '../billing/metered-call/answers.js';
import { ApiError, notFound } from '../http/errors.js';
import { UpstreamUnavailableError, type ChatResponse } from '../providers/types.js';
import { ResponseOwnership } from './responses-ownership.js';
import { refuseUnstored } from './responses-stateless.js';

export interface StoredResponseRequest {
  accountId: string;
  requestId: string;
  method: 'GET' | 'DELETE';
  responseId: string;
  /** '' for the response itself, '/input_items' for its input items. */
  subresource: '' | '/input_items';
  /** The client's query string, with its '?', or ''. Passed on as it is (include[], limit, after, order). */
  query: string;
  signal: AbortSignal;
}

export async function handleStoredResponse(deps: Deps, request: StoredResponseRequest): Promise<Response> {
  refuseUnstored(deps, request.responseId, null); // a Gemini response id: never stored, so 400 rather than 404
  const ownership = new ResponseOwnership(deps.db);
  const owned = await ownership.find(request.accountId, request.responseId);
  if (!owned) throw notFound(`Response with id '${request.responseId}' not found.`);
  const provider = deps.providers.get(owned.provider);
  if (!provider?.resource) {
    throw new ApiError(503, 'provider_not_available', `The provider '${owned.provider}' that stores this response is not enabled on this gateway.`, 'api_error');
  }
  let answer: ChatResponse;
  try {
    answer = await provider.resource({
      method: request.method,
      path: `/responses/${encodeURIComponent(request.responseId)}${request.subresource}${request.query}`,
      signal: request.signal,
    });
  } catch (error) {
    if (!(error instanceof UpstreamUnavailableError)) throw error;
    deps.log.warn({ requestId: request.requestId, provider: owned.provider, kind: error.kind }, 'upstream unavailable');
    throw new ApiError(error.kind === 'timeout' ? 504 : 502, `upstream_${error.kind}`, error.message, 'upstream_error');
  }
  if (answer.kind === 'stream') {
    // GET ?stream=true replays a stored response's events: passed through as they come.
    return new Response(toReadable(answer.chunks), { status: answer.status, headers: { ...answer.passHeaders, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' } });
  }
  if (answer.status >= 400) {
    return jsonResponse(answer.status, upstreamErrorBody(parseJsonOrNull(answer.bytes), answer.bytes, answer.status), answer.passHeaders);
  }
  if (request.method === 'DELETE') await ownership.remove(request.accountId, request.responseId);
  return new Response(answer.bytes, { status: answer.status, headers: { ...answer.passHeaders, 'content-type': 'application/json' } });
}

function toReadable(chunks: AsyncIterator<Uint8Array, unknown, undefined>): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await chunks.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    async cancel() {
      await chunks.return?.(undefined);
    },
  });
}

function parseJsonOrNull(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return null;
  }
}
