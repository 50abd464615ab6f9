// GET /docs: the API reference as one server-rendered HTML page, from the same OpenAPI document. No
// script and nothing loaded from elsewhere (no CDN): it reads offline, in tests and behind firewalls.
import type { OpenApiDocument } from './document.js';

type JsonSchema = Record<string, unknown>;

const escape = (text: string) => text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

/** A short type label: `integer`, `string (active|suspended)`, `array of object`, `Ref`. */
function typeLabel(schema: JsonSchema | undefined): string {
  if (!schema) return 'any';
  if (typeof schema.$ref === 'string') return schema.$ref.split('/').at(-1)!;
  if (Array.isArray(schema.enum)) return `${typeof schema.enum[0] === 'string' ? 'string' : 'value'} (${schema.enum.map(String).join(' | ')})`;
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  const variants = (schema.anyOf ?? schema.oneOf) as JsonSchema[] | undefined;
  if (variants) return variants.map(typeLabel).join(' | ');
  if (schema.type === 'array') return `array of ${typeLabel(schema.items as JsonSchema | undefined)}`;
  if (Array.isArray(schema.type)) return schema.type.join(' | ');
  return typeof schema.type === 'string' ? schema.type : 'any';
}

function limits(schema: JsonSchema): string {
  const parts: string[] = [];
  for (const [key, label] of [['minimum', 'min'], ['maximum', 'max'], ['minLength', 'min length'], ['maxLength', 'max length'], ['default', 'default']] as const) {
    const value = schema[key];
    // Bounds at the safe-integer edge say nothing a reader needs.
    if (value !== undefined && !(typeof value === 'number' && Math.abs(value) >= Number.MAX_SAFE_INTEGER)) parts.push(`${label} ${JSON.stringify(value)}`);
  }
  return parts.join(', ');
}

function fieldsTable(schema: JsonSchema): string {
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((schema.required as string[] | undefined) ?? []);
  const rows = Object.entries(properties).map(
    ([name, field]) =>
      `<tr><td><code>${escape(name)}</code>${required.has(name) ? ' <b>required</b>' : ''}</td><td>${escape(typeLabel(field))}</td><td>${escape(limits(field))}</td></tr>`,
  );
  if (rows.length === 0) return '';
  return `<table><thead><tr><th>field</th><th>type</th><th>limits</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function operationHtml(document: OpenApiDocument, path: string, method: string, operation: JsonSchema): string {
  const parameters = (operation.parameters as JsonSchema[] | undefined) ?? [];
  const paramRows = parameters.map(
    (p) =>
      `<tr><td><code>${escape(String(p.name))}</code>${p.required ? ' <b>required</b>' : ''}</td><td>${escape(String(p.in))}</td><td>${escape(typeLabel(p.schema as JsonSchema))}</td><td>${escape(limits(p.schema as JsonSchema))}</td></tr>`,
  );
  const bodyRef = ((operation.requestBody as JsonSchema | undefined)?.content as Record<string, { schema: JsonSchema }> | undefined)?.['application/json']?.schema.$ref;
  const bodyName = typeof bodyRef === 'string' ? bodyRef.split('/').at(-1)! : null;
  const body = bodyName ? document.components.schemas[bodyName] : undefined;
  const id = String(operation.operationId);
  return [
    `<section id="${escape(id)}"><h3><span class="method ${method}">${method.toUpperCase()}</span> <code>${escape(path)}</code></h3>`,
    `<p>${escape(String(operation.summary))} <em>${escape(String(operation.description))}</em></p>`,
    paramRows.length > 0 ? `<h4>Parameters</h4><table><thead><tr><th>name</th><th>in</th><th>type</th><th>limits</th></tr></thead><tbody>${paramRows.join('')}</tbody></table>` : '',
    body ? `<h4>Body <code>${escape(bodyName!)}</code></h4>${fieldsTable(body)}<details><summary>JSON Schema</summary><pre>${escape(JSON.stringify(body, null, 2))}</pre></details>` : '',
    `<p class="statuses">Answers: ${Object.keys(operation.responses as JsonSchema).map((s) => `<code>${escape(s)}</code>`).join(' ')}</p></section>`,
  ].join('');
}

export function renderDocsPage(document: OpenApiDocument): string {
  const byTag = new Map<string, string[]>();
  const index = new Map<string, string[]>();
  for (const [path, methods] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      const tag = (operation.tags as string[])[0]!;
      (byTag.get(tag) ?? byTag.set(tag, []).get(tag)!).push(operationHtml(document, path, method, operation));
      (index.get(tag) ?? index.set(tag, []).get(tag)!).push(`<li><a href="#${escape(String(operation.operationId))}">${method.toUpperCase()} ${escape(path)}</a></li>`);
    }
  }
  const sections = document.tags
    .filter((tag) => byTag.has(tag.name))
    .map((tag) => `<h2 id="tag-${tag.name}">${escape(tag.name)}</h2><p>${escape(tag.description)}</p>${byTag.get(tag.name)!.join('')}`);
  const nav = document.tags.filter((tag) => index.has(tag.name)).map((tag) => `<h4>${escape(tag.name)}</h4><ul>${index.get(tag.name)!.join('')}</ul>`);
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(document.info.title)} API reference</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:0;display:flex;color:#222}
nav{width:290px;flex:none;height:100vh;overflow:auto;position:sticky;top:0;padding:1rem;background:#f6f6f6;font-size:13px}
nav ul{list-style:none;padding:0;margin:0 0 .5rem}main{padding:1rem 2rem;max-width:960px}
section{border-top:1px solid #ddd;padding:.5rem 0}table{border-collapse:collapse;margin:.25rem 0}td,th{border:1px solid #ddd;padding:2px 8px;text-align:left;font-size:13px}
.method{display:inline-block;min-width:4.5em;text-align:center;border-radius:3px;color:#fff;font-size:12px;padding:1px 4px}
.get{background:#2f7d32}.post{background:#1f5fa8}.patch{background:#a86b1f}.delete{background:#a82a1f}pre{background:#f6f6f6;padding:.5rem;overflow:auto;font-size:12px}
</style></head><body><nav><p><b>${escape(document.info.title)}</b> ${escape(document.info.version)}</p><p><a href="/openapi.json">openapi.json</a></p>${nav.join('')}</nav>
<main><h1>${escape(document.info.title)} API reference</h1><p>${escape(document.info.description)}</p>${sections.join('')}</main></body></html>`;
}
