// OpenAI-shaped errors: {"error":{"message","type","code","param"}} (SPEC section 4).
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ZodError } from 'zod';

export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'insufficient_quota'
  | 'rate_limit_error'
  | 'not_found_error'
  | 'conflict_error'
  | 'api_error'
  | 'upstream_error';

export interface ErrorBody {
  error: { message: string; type: string; code: string | null; param: string | null };
}

export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly type: ErrorType = 'invalid_request_error',
    readonly param: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  toBody(): ErrorBody {
    return { error: { message: this.message, type: this.type, code: this.code, param: this.param } };
  }
}

export const badRequest = (message: string, param: string | null = null, code = 'invalid_request') =>
  new ApiError(400, code, message, 'invalid_request_error', param);
export const unauthorized = (message: string) => new ApiError(401, 'invalid_api_key', message, 'authentication_error');
export const forbidden = (message: string) => new ApiError(403, 'forbidden', message, 'permission_error');
export const notFound = (message: string) => new ApiError(404, 'not_found', message, 'not_found_error');
export const conflict = (message: string) => new ApiError(409, 'conflict', message, 'conflict_error');
export const insufficientBalance = (message: string) => new ApiError(402, 'insufficient_balance', message, 'insufficient_quota');

/** Turns the first zod issue into a 400 naming the offending field. */
export function fromZodError(error: ZodError, prefix = ''): ApiError {
  const issue = error.issues[0];
  if (!issue) return badRequest('Invalid request body.');
  // An unknown field (strict schemas) is named like any other bad field.
  const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0] ?? ''] : issue.path;
  const param = [prefix, ...path.map(String)].filter(Boolean).join('.');
  return badRequest(param ? `Invalid '${param}': ${issue.message}.` : `${issue.message}.`, param || null);
}
