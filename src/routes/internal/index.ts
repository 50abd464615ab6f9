// Routes for the operator's own services, guarded by BILLING_SECRET instead of an API key (access
// `billing-secret` in the route catalog). Without BILLING_SECRET they do not exist (404).
import { Hono } from 'hono';
import type { AppEnv } from '../../http/context.js';
import { internalUsage } from './usage.js';

export const internalRoutes = new Hono<AppEnv>();

internalRoutes.route('/', internalUsage);
