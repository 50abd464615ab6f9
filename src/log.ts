// Structured logs (pino). Keys, Authorization headers and secrets are redacted wherever they appear.
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

// Anything that looks like one of our keys or a provider/Stripe secret is masked even inside messages.
const SECRET_PATTERN = /\b(tg-[A-Za-z0-9_-]{8})[A-Za-z0-9_-]+|\b((?:sk|rk|pk)_(?:live|test)_|whsec_|sk-)[A-Za-z0-9_-]{4,}/g;
export const maskSecrets = (text: string) => text.replace(SECRET_PATTERN, (_m, tg, other) => `${tg ?? other}[redacted]`);

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      // Masks the finished line, so a key is caught wherever it sits: message, URL path, error text.
      hooks: { streamWrite: maskSecrets },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
