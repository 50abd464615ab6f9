// Errors from Google -> OpenAI-shaped error bodies with the status Google gave (pure). Google's
// message is kept where it is about the request (400, 404, 5xx); where it describes the operator's
// Google account (API key, permissions, quota: project numbers, limits) the client gets a plain
// statement instead.
import type { ErrorBody } from '../../http/errors.js';
import type { ChatResponse } from '../types.js';

export interface GoogleError {
  code?: number;
  message?: string;
  status?: string;
  details?: { '@type'?: string; reason?: string; retryDelay?: string }[];
}

export interface MappedError {
  status: number;
  /** `usage` in the wire format's own shape (chat's or the Responses API's), for the core to bill. */
  body: ErrorBody & { usage?: object };
  headers: Record<string, string>;
}

/** Google's `{"error":{code,message,status,details}}` out of the SDK's error text (which may prefix it). */
export function parseGoogleError(text: string): GoogleError {
  const start = text.indexOf('{');
  if (start >= 0) {
    try {
      const parsed = JSON.parse(text.slice(start)) as { error?: unknown };
      if (typeof parsed.error === 'object' && parsed.error !== null) return parsed.error as GoogleError;
    } catch {
      // not JSON: use the text
    }
  }
  return { message: text };
}

export function mapGoogleError(httpStatus: number, error: GoogleError, model: string): MappedError {
  const googleStatus = typeof error.status === 'string' && error.status !== '' ? error.status : `HTTP ${httpStatus}`;
  const said = (error.message ?? '').slice(0, 1000);
  const reasons = (error.details ?? []).map((detail) => detail.reason).filter((reason): reason is string => typeof reason === 'string');
  const body = (message: string, type: string, code: string, param: string | null = null) => ({ error: { message, type, code, param } });

  if (httpStatus === 401 || httpStatus === 403 || reasons.includes('API_KEY_INVALID')) {
    return {
      status: httpStatus,
      headers: {},
      body: body(`Gemini refused this gateway's credentials (${googleStatus}). This is a problem of the gateway's configuration, not of the request: tell its operator.`, 'upstream_error', 'upstream_auth'),
    };
  }
  if (httpStatus === 429) {
    const seconds = retryDelaySeconds(error);
    return {
      status: 429,
      headers: seconds === null ? {} : { 'retry-after': String(seconds) },
      body: body(`Gemini is rate limiting this gateway (${googleStatus}); retry later.`, 'rate_limit_error', 'rate_limit_exceeded'),
    };
  }
  if (httpStatus === 404) {
    return { status: 404, headers: {}, body: body(`Gemini does not serve the model '${model}': ${said}`, 'invalid_request_error', 'model_not_found', 'model') };
  }
  if (httpStatus >= 400 && httpStatus < 500) {
    return { status: httpStatus, headers: {}, body: body(`Gemini rejected the request (${googleStatus}): ${said}`, 'invalid_request_error', googleStatus.toLowerCase().replace(/\W+/g, '_')) };
  }
  return { status: httpStatus, headers: {}, body: body(`Gemini failed (${googleStatus}): ${said}`, 'upstream_error', googleStatus.toLowerCase().replace(/\W+/g, '_')) };
}

/**
 * Google answers a blocked prompt with HTTP 200, promptFeedback.blockReason and no candidates: an
 * error for the client. It carries usage when Google reported it, so the core bills those prompt
 * tokens (Google bills a 200); without usage nothing is billed. `param` names the prompt as the
 * client's API does (`messages` for chat, `input` for Responses).
 */
export function blockedPromptError(reason: string, usage: object | null, param = 'messages'): MappedError {
  return {
    status: 400,
    headers: {},
    body: {
      error: {
        message: `Gemini blocked the prompt (blockReason: ${reason}). Change the prompt; retrying it unchanged will be blocked again.`,
        type: 'invalid_request_error',
        code: 'content_filter',
        param,
      },
      ...(usage ? { usage } : {}),
    },
  };
}

/** RetryInfo's retryDelay ("7s", "0.5s") as whole seconds, rounded up. */
function retryDelaySeconds(error: GoogleError): number | null {
  const delay = (error.details ?? []).find((detail) => detail['@type']?.endsWith('google.rpc.RetryInfo'))?.retryDelay;
  const seconds = typeof delay === 'string' ? Number(/^(\d+(?:\.\d+)?)s$/.exec(delay)?.[1]) : NaN;
  return Number.isFinite(seconds) ? Math.max(1, Math.ceil(seconds)) : null;
}

const encoder = new TextEncoder();

/** A mapped error as the adapter's answer. */
export function errorResponse(error: MappedError, passHeaders: Record<string, string>): ChatResponse {
  return { kind: 'buffered', status: error.status, passHeaders: { ...passHeaders, ...error.headers }, bytes: encoder.encode(JSON.stringify(error.body)) };
}
