// Postgres error codes, whether the driver error arrives bare (postgres.js, PGlite) or wrapped by drizzle.
export const UNIQUE_VIOLATION = '23505';
export const NUL_IN_TEXT = '22021';

export function postgresErrorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, cause } = error as { code?: unknown; cause?: unknown };
  if (typeof code === 'string') return code;
  return cause === error ? undefined : postgresErrorCode(cause);
}

/**
 * What the client is told when Postgres refuses a value it sent (SQLSTATE class 22, "data exception":
 * the input, not the server, is at fault). The database's own message is not echoed: it may quote
 * other values of the statement.
 */
const DATA_EXCEPTIONS: Record<string, string> = {
  '22021': 'Text values must not contain NUL (\\u0000) characters.',
  '22P05': 'Text values must not contain NUL (\\u0000) characters or unpaired Unicode surrogates.',
  '22003': 'A number in the request is out of range.',
  '22P02': 'A value in the request has an invalid format.',
  '22001': 'A text value in the request is too long.',
  '22007': 'A date or time in the request has an invalid format.',
  '22008': 'A date or time in the request is out of range.',
};

/** The client-facing message for a Postgres data exception (class 22), or undefined for any other error. */
export function dataExceptionMessage(error: unknown): string | undefined {
  const code = postgresErrorCode(error);
  if (code === undefined || !code.startsWith('22')) return undefined;
  return DATA_EXCEPTIONS[code] ?? `A value in the request was refused by the database (SQLSTATE ${code}).`;
}

// postgres.js connection codes, Node socket codes, and SQLSTATE classes 08 (connection) and 57P (shutdown).
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'CONNECT_TIMEOUT', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED']);

/** True when the database could not be reached, as opposed to refusing what was sent. */
export function isConnectionError(error: unknown): boolean {
  const code = postgresErrorCode(error);
  return code !== undefined && (CONNECTION_CODES.has(code) || code.startsWith('08') || code.startsWith('57P'));
}
