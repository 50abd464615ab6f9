// GET /packages: the token packages on sale (public, like a price list).
import { Hono } from 'hono';
import type { AppEnv } from '../../http/context.js';
import { activePackages, publicPackage } from '../../stripe/packages.js';

export const packagesRoutes = new Hono<AppEnv>();

packagesRoutes.get('/packages', async (c) => {
  const rows = await activePackages(c.get('deps').db);
  return c.json({ data: rows.map(publicPackage) });
});
