// Structured logs (pino). Keys, Authorization headers and secrets are redacted wherever they appear,
// and logged errors never carry the values of a failed SQL statement.
import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'authorization',
  'Authorization',
  '*.authorization',
  '*.Authorization',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers["x-billing-secret"]',
  'req.headers["stripe-signature"]',
  'key',
  '*.key',
  'apiKey',
  '*.apiKey',
  'secret',
  '*.secret',
  'password',
  '*.password',
];

const REDACTED = '[redacted]';

// Anything that looks like one of our keys or a provider/Stripe secret is masked even inside messages.
const SECRET_PATTERN = /\b(tg-[A-Za-z0-9_-]{8})[A-Za-z0-9_-]+|\b((?:sk|rk|pk)_(?:live|test)_|whsec_|sk-)[A-Za-z0-9_-]{4,}/g;
export const maskSecrets = (text: string) => text.replace(SECRET_PATTERN, (_m, tg, other) => `${tg ?? other}[redacted]`);

/** Fields of database errors that hold a statement's values: drizzle's `params`, postgres.js's `parameters` and `args` (debug mode). */
const VALUE_FIELDS = ['params', 'parameters', 'args'] as const;
const SQL_STRING_LITERAL = /'(?:[^']|'')*'/g;
/** Postgres quotes the offending row or key in `detail`: "Key (key_hash)=(…) already exists.", "Failing row contains (…)." */
const DETAIL_VALUES = /(\)=\()[\s\S]*(\))|(Failing row contains \()[\s\S]*(\))/g;

type ErrorLike = { message: string; cause?: unknown; [field: string]: unknown };

const isErrorLike = (value: unknown): value is ErrorLike => typeof value === 'object' && value !== null && typeof (value as { message?: unknown }).message === 'string';

/** SQL text with its string literals masked (values a statement embeds rather than binds). */
export const redactSql = (query: string) => query.replace(SQL_STRING_LITERAL, `'${REDACTED}'`);

/**
 * pino's error serializer, then every trace of a failed statement's values removed: drizzle's
 * DrizzleQueryError puts the query and its parameters into its message ("Failed query: …\nparams:
 * …") and into enumerable fields, and Postgres quotes values in `detail`. Error chains (`cause`) are
 * followed, since pino folds the causes' messages and stacks into the logged error.
 */
export function serializeError(error: unknown): unknown {
  if (!isErrorLike(error)) return error;
  const serialized = pino.stdSerializers.err(error as unknown as Error) as unknown as Record<string, unknown>;
  const replacements: Array<[string, string]> = [];
  for (let link: unknown = error, depth = 0; isErrorLike(link) && depth < 10; link = link.cause, depth++) {
    const redacted = redactedMessage(link);
    if (redacted !== link.message) replacements.push([link.message, redacted]);
  }
  for (const field of ['message', 'stack'] as const) {
    const original = serialized[field];
    if (typeof original !== 'string') continue;
    let text = original;
    for (const [from, to] of replacements) text = text.split(from).join(to);
    serialized[field] = text;
  }
  for (const field of VALUE_FIELDS) if (field in serialized) serialized[field] = REDACTED;
  Object.assign(serialized, databaseDiagnostics(error, serialized));
  if (typeof serialized.query === 'string') serialized.query = redactSql(serialized.query);
  if (typeof serialized.detail === 'string') serialized.detail = redactDetail(serialized.detail);
  return serialized;
}

/**
 * pino keeps only the message and stack of a cause: the SQLSTATE, constraint, table and column of the
 * database error a query failed with (drizzle wraps it) are lifted onto the logged error.
 */
function databaseDiagnostics(error: ErrorLike, serialized: Record<string, unknown>): Record<string, unknown> {
  for (let link: unknown = error, depth = 0; isErrorLike(link) && depth < 10; link = link.cause, depth++) {
    if (typeof link.code !== 'string' || typeof link.severity !== 'string') continue;
    const fields: Record<string, unknown> = { code: link.code, constraint: link.constraint_name, table: link.table_name, column: link.column_name };
    if (typeof link.detail === 'string') fields.detail = redactDetail(link.detail);
    return Object.fromEntries(Object.entries(fields).filter(([name, value]) => value !== undefined && serialized[name] === undefined));
  }
  return {};
}

function redactedMessage(error: ErrorLike): string {
  let message = error.message;
  for (const field of VALUE_FIELDS) {
    const values = error[field];
    if (values !== undefined && values !== null) message = message.split(`${field}: ${String(values)}`).join(`${field}: ${REDACTED}`);
  }
  if (typeof error.query === 'string' && error.query !== '') message = message.split(error.query).join(redactSql(error.query));
  if (typeof error.detail === 'string' && error.detail !== '') message = message.split(error.detail).join(redactDetail(error.detail));
  return message;
}

function redactDetail(detail: string): string {
  return detail.replace(DETAIL_VALUES, (_m, keyOpen?: string, keyClose?: string, rowOpen?: string, rowClose?: string) =>
    keyOpen !== undefined ? `${keyOpen}${REDACTED}${keyClose}` : `${rowOpen}${REDACTED}${rowClose}`,
  );
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      redact: { paths: REDACT_PATHS, censor: REDACTED },
      serializers: { err: serializeError, error: serializeError },
      hooks: {
        // Masks the finished line, so a key is caught wherever it sits: message, URL path, error text.
        streamWrite: maskSecrets,
        // log.error(err) alone makes the error's raw message the line's `msg`: give it the redacted one.
        logMethod(args, method) {
          const [first] = args;
          if (args.length === 1 && first instanceof Error) return method.call(this, { err: first }, redactedMessage(first as unknown as ErrorLike));
          return method.apply(this, args);
        },
      },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
