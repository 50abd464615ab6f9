// Building the answers the proxy sends: provider errors are passed on in OpenAI's error shape.
import type { ErrorBody } from '../../http/errors.js';
import { maskSecrets } from '../../log.js';

export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { ...headers, 'content-type': 'application/json' } });
}

/**
 * The provider's error body when it is already OpenAI-shaped; otherwise one built around its text.
 * A 401 is about the gateway's own provider key, not the client's: OpenAI's text quotes that key's
 * last characters, so the client gets a message of ours instead. Other texts pass with secrets masked.
 */
export function upstreamErrorBody(json: unknown, bytes: Uint8Array, status: number): ErrorBody {
  if (status === 401) {
    const message = 'The provider refused this gateway\'s credentials (HTTP 401). This is a problem of the gateway\'s configuration, not of the request: tell its operator.';
    return { error: { message, type: 'upstream_error', code: 'upstream_auth', param: null } };
  }
  const error = (json as { error?: unknown } | null)?.error;
  if (error && typeof error === 'object' && typeof (error as { message?: unknown }).message === 'string') {
    const e = error as { message: string; type?: unknown; code?: unknown; param?: unknown };
    return {
      error: {
        message: maskSecrets(e.message),
        type: typeof e.type === 'string' ? e.type : 'upstream_error',
        code: typeof e.code === 'string' ? e.code : e.code == null ? null : String(e.code),
        param: typeof e.param === 'string' ? e.param : null,
      },
    };
  }
  const text = maskSecrets(Buffer.from(bytes).toString('utf8').slice(0, 500));
  return { error: { message: `The provider answered ${status}${text ? `: ${text}` : ''}`, type: 'upstream_error', code: `upstream_${status}`, param: null } };
}
