// Postgres error codes, whether the driver error arrives bare (postgres.js, PGlite) or wrapped by drizzle.
export const UNIQUE_VIOLATION = '23505';
export const NUL_IN_TEXT = '22021';

export function postgresErrorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, cause } = error as { code?: unknown; cause?: unknown };
  if (typeof code === 'string') return code;
  return cause === error ? undefined : postgresErrorCode(cause);
}

// postgres.js connection codes, Node socket codes, and SQLSTATE classes 08 (connection) and 57P (shutdown).
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'CONNECT_TIMEOUT', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED']);

/** True when the database could not be reached, as opposed to refusing what was sent. */
export function isConnectionError(error: unknown): boolean {
  const code = postgresErrorCode(error);
  return code !== undefined && (CONNECTION_CODES.has(code) || code.startsWith('08') || code.startsWith('57P'));
}
