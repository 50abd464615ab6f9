// Environment configuration (SPEC section 5), parsed once with zod. No side effects at import.
import { z } from 'zod';

const url = (protocols: string[]) =>
  z.string().refine((value) => {
    try {
      return protocols.includes(new URL(value).protocol);
    } catch {
      return false;
    }
  }, `a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`);

const optionalSecret = z.string().min(1).optional();
const nonNegativeInt = z.coerce.number().int().nonnegative();

// The Stripe client takes host, port and protocol, and adds /v1/... itself: a path would be dropped.
const stripeApiBase = url(['http:', 'https:']).refine((value) => {
  try {
    const parsed = new URL(value);
    return (parsed.pathname === '/' || parsed.pathname === '') && !parsed.search && !parsed.username;
  } catch {
    return false;
  }
}, 'an http:// or https:// URL with no path (the client adds /v1/...), e.g. http://localhost:12111');
const port = z.coerce.number({ message: 'an integer port 0-65535' }).int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
// Node's timers fire at once (with a warning) beyond 2^31-1 ms: a longer timeout would cut every call.
const timerMs = positiveInt.max(2_147_483_647, 'at most 2147483647 ms (about 24.8 days; Node timers overflow beyond it)');

const envSchema = z.object({
  PORT: port.default(8787),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATABASE_URL: url(['postgres:', 'postgresql:']).optional(),
  DATA_DIR: z.string().min(1).default('./data'),
  REDIS_URL: url(['redis:', 'rediss:']).optional(),
  REDIS_PREFIX: z.string().regex(/^[A-Za-z0-9:_-]*$/, 'letters, digits, ":", "_" or "-"').default('tg:'),
  ADMIN_API_KEY: z.string().regex(/^tg-[A-Za-z0-9_-]{32,}$/, 'a key of the form tg-<at least 32 base62/base64url chars>').optional(),
  BILLING_SECRET: optionalSecret,
  OPENAI_API_KEY: optionalSecret,
  OPENAI_BASE_URL: url(['http:', 'https:']).default('https://api.openai.com/v1'),
  GEMINI_API_KEY: optionalSecret,
  GEMINI_BASE_URL: url(['http:', 'https:']).optional(),
  MOCK_PROVIDER: z.enum(['on', 'off']).default('on'),
  STRIPE_SECRET_KEY: z.string().regex(/^(sk|rk)_(test|live)_\S+$/, 'a Stripe secret key (sk_test_..., sk_live_... or a restricted rk_... key)').optional(),
  STRIPE_WEBHOOK_SECRET: z.string().regex(/^whsec_\S+$/, "a webhook signing secret (whsec_..., from the Dashboard or 'stripe listen')").optional(),
  STRIPE_API_BASE: stripeApiBase.optional(),
  AUTO_RECHARGE_RETRY_SECONDS: nonNegativeInt.default(900),
  PUBLIC_URL: url(['http:', 'https:']).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  UPSTREAM_TIMEOUT_MS: timerMs.default(600_000),
  HOLD_TTL_SECONDS: positiveInt.default(900),
  SETTLE_INTERVAL_MS: timerMs.default(50),
  SHUTDOWN_TIMEOUT_MS: timerMs.default(30_000),
  DRAIN_AFTER_DISCONNECT_MS: timerMs.default(30_000),
});

export type Config = Omit<z.infer<typeof envSchema>, 'PUBLIC_URL'> & { PUBLIC_URL: string };

export class ConfigError extends Error {}

/** Parses the environment; throws ConfigError with one line naming the first bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings mean "unset", as in most deployment tools.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0] ?? 'environment');
    const line = `Invalid configuration: ${name} must be ${expectation(issue.message)} (got ${shown(name, env[name] ?? '')})`;
    throw new ConfigError(line.replace(/\s+/g, ' '));
  }
  const config = parsed.data;
  if (config.UPSTREAM_TIMEOUT_MS >= config.HOLD_TTL_SECONDS * 1000) {
    // A hold must outlive the longest wait for an answer, or the money it holds could be spent twice.
    throw new ConfigError(
      `Invalid configuration: UPSTREAM_TIMEOUT_MS must be shorter than HOLD_TTL_SECONDS (got ${config.UPSTREAM_TIMEOUT_MS} ms and ${config.HOLD_TTL_SECONDS} s)`,
    );
  }
  // Charging customers whose payments can never be credited (or the reverse) is a misconfiguration.
  if (Boolean(config.STRIPE_SECRET_KEY) !== Boolean(config.STRIPE_WEBHOOK_SECRET)) {
    const missing = config.STRIPE_SECRET_KEY ? 'STRIPE_WEBHOOK_SECRET' : 'STRIPE_SECRET_KEY';
    const other = config.STRIPE_SECRET_KEY ? 'STRIPE_SECRET_KEY' : 'STRIPE_WEBHOOK_SECRET';
    throw new ConfigError(`Invalid configuration: ${missing} must be set when ${other} is (Stripe needs both: the key creates payments, the webhook secret credits them)`);
  }
  return { ...config, PUBLIC_URL: config.PUBLIC_URL ?? `http://localhost:${config.PORT}` };
}

function expectation(message: string): string {
  return message
    .replace(/^Invalid input: expected /, '')
    .replace(/^Invalid option: expected /, '')
    .replace(/^Too (small|big): expected /, '');
}

// The error line goes to stderr and log collectors: never echo a secret, nor a password inside a URL.
function shown(name: string, value: string): string {
  if (/(_KEY|_SECRET)$/.test(name)) return 'a value that is not shown, as it is a secret';
  return JSON.stringify(value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/:@]*:)[^/@]*@/i, '$1***@'));
}
