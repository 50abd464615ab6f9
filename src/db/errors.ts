// Postgres error codes, whether the driver error arrives bare (postgres.js, PGlite) or wrapped by drizzle.
export const UNIQUE_VIOLATION = '23505';
export const NUL_IN_TEXT = '22021';

export function postgresErrorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, cause } = error as { code?: unknown; cause?: unknown };
  if (typeof code === 'string') return code;
  return cause === error ? undefined : postgresErrorCode(cause);
}
