import { defineConfig } from 'drizzle-kit';

// Only used by `npm run db:generate`; the app applies drizzle/ itself at start (src/db/migrate.ts).
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/schema.ts',
  out: './drizzle',
});
