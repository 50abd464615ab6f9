# syntax=docker/dockerfile:1
#
# tokengate container image.
#
#   docker build -t tokengate .
#   docker run -p 8787:8787 -v tokengate-data:/data tokengate        # embedded PGlite + in-process store
#
# Environment it honours (SPEC section 5 and src/config.ts; an empty value counts as unset, and a bad
# value stops the process at start with one line naming the variable):
#   PORT (8787), HOST (0.0.0.0)          listen address
#   DATABASE_URL                         postgres:// URL; unset: embedded PGlite under $DATA_DIR/pglite
#   DATA_DIR (/data here)                PGlite files and, without REDIS_URL, the settlement journal
#   REDIS_URL                            redis:// or rediss:// URL; unset: in-process store (one instance only)
#   REDIS_PREFIX (tg:)                   prefix of every Redis key
#   ADMIN_API_KEY                        bootstrap admin key (tg-...); unset: one is generated and printed once
#   BILLING_SECRET                       enables POST /internal/usage (header x-billing-secret)
#   OPENAI_API_KEY, OPENAI_BASE_URL      OpenAI upstream (default https://api.openai.com/v1)
#   GEMINI_API_KEY, GEMINI_BASE_URL      Gemini upstream
#   STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET, STRIPE_API_BASE   Stripe
#   PUBLIC_URL (http://localhost:$PORT)  base of links in Checkout redirects
#   LOG_LEVEL (info)                     pino level
#   UPSTREAM_TIMEOUT_MS (600000), HOLD_TTL_SECONDS (900), SETTLE_INTERVAL_MS (50)
#   SHUTDOWN_TIMEOUT_MS (30000)          drain time on SIGTERM: give `docker stop` a longer timeout
#                                        (docker stop -t 40, compose stop_grace_period) than this.
#
# Install scripts are skipped (--ignore-scripts): nothing tokengate builds or runs needs them
# (tiktoken and PGlite are WebAssembly, the build is plain tsc).

ARG NODE_IMAGE=node:22-bookworm-slim

# ---- build: compile src/ to dist/ ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The patched postgres.js (vendor/README.md) installs from here.
COPY vendor ./vendor
RUN --mount=type=cache,target=/root/.npm \
    npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies, compiled code, migrations and config ----
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
ENV NODE_ENV=production PORT=8787 DATA_DIR=/data

COPY package.json package-lock.json ./
# The patched postgres.js (vendor/README.md) installs from here.
COPY vendor ./vendor
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# The app finds these relative to its own files (dist/db/migrate.js reads ../../drizzle/, and
# config/*.json likewise), so the layout must stay /app/dist, /app/drizzle, /app/config.
# Everything under /app stays owned by root: the app user can read its code but not change it.
COPY --from=build /app/dist ./dist
COPY drizzle ./drizzle
COPY config ./config

# The node image ships an unprivileged `node` user (uid 1000); /data is the only place it writes.
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]

EXPOSE 8787

# /healthz says the process answers (/readyz also checks Postgres and Redis). The slim image has no
# curl, so Node's fetch does the probe. Assumes HOST is 0.0.0.0 or 127.0.0.1.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8787) + '/healthz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# Node runs as PID 1 and handles SIGTERM itself: it stops accepting, finishes in-flight requests
# and drains queued settlements before it exits.
CMD ["node", "dist/server.js"]
