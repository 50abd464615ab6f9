// Google's errors, and Google's refusals that arrive as HTTP 200, as OpenAI-shaped error answers
// (pure). Status errors map as for Gemini chat (src/providers/gemini/errors.ts); what is particular to
// images is the safety refusal: OpenAI's image endpoint calls it `content_policy_violation`.
import type { ErrorBody } from '../../http/errors.js';
import { mapGoogleError, parseGoogleError } from '../gemini/errors.js';

/** An error for the client; `usage` (OpenAI's image usage) is billed when Google reported some. */
export interface ImageErrorAnswer {
  status: number;
  body: ErrorBody & { usage?: Record<string, unknown> };
  headers: Record<string, string>;
}

// Imagen refuses an unsafe prompt with 400 INVALID_ARGUMENT and says why only in its message.
const SAFETY_MESSAGE = /responsible ai|sensitive words|safety (filter|polic|system)|violat(e|es|ed|ing) (our|google)/i;

/** Google's error answer (`{"error":{code,message,status,details}}`, or any text) for the client. */
export function mapGoogleImageError(httpStatus: number, text: string, model: string): ImageErrorAnswer {
  const error = parseGoogleError(text);
  if (httpStatus === 400 && SAFETY_MESSAGE.test(error.message ?? '')) return contentPolicy(`Google refused the prompt: ${(error.message ?? '').slice(0, 1000)}`);
  const mapped = mapGoogleError(httpStatus, error, model);
  return { status: mapped.status, headers: mapped.headers, body: { error: mapped.body.error } };
}

/** A prompt or every image withheld by Google's safety filters: OpenAI's code for its own image safety system. */
export function contentPolicy(message: string, usage?: Record<string, unknown>): ImageErrorAnswer {
  const body = { error: { message, type: 'invalid_request_error', code: 'content_policy_violation', param: 'prompt' } };
  return { status: 400, headers: {}, body: usage ? { ...body, usage } : body };
}

/** A request this adapter cannot translate faithfully: refused before Google is called. */
export function unsupported(message: string, param: string): ImageErrorAnswer {
  return { status: 400, headers: {}, body: { error: { message, type: 'invalid_request_error', code: 'unsupported_parameter', param } } };
}
