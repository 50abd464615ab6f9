// GET /openapi.json and GET /docs: the API reference, generated from the route catalog once per process.
import { readFileSync } from 'node:fs';
import { Hono } from 'hono';
import type { AppEnv } from '../../http/context.js';
import { buildOpenApiDocument, type OpenApiDocument } from '../../openapi/document.js';
import { renderDocsPage } from '../../openapi/docs-page.js';
import { ROUTES } from '../catalog.js';

export const referenceRoutes = new Hono<AppEnv>();

let built: { document: OpenApiDocument; json: string; html: string } | undefined;

function reference() {
  if (!built) {
    const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    const document = buildOpenApiDocument(ROUTES, version);
    built = { document, json: JSON.stringify(document), html: renderDocsPage(document) };
  }
  return built;
}

referenceRoutes.get('/openapi.json', (c) => c.body(reference().json, 200, { 'content-type': 'application/json' }));
referenceRoutes.get('/docs', (c) => c.html(reference().html));
