// Delivering a signed alert event to the admin's webhook URL. Signed like Stripe's webhooks:
//   x-tokengate-signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
// (a receiver recomputes it over the raw body and rejects an old t to stop replays). Redirects are
// never followed, and unless allowed, a URL whose name resolves to a loopback or private address is
// refused; the connection goes to the very address that was checked.
import { createHmac } from 'node:crypto';
import { lookup as dnsLookup } from 'node:dns/promises';
import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { isPrivateAddress } from './address.js';

export const SIGNATURE_HEADER = 'x-tokengate-signature';

export function signatureHeader(secret: string, body: string, timestampSeconds: number): string {
  const digest = createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex');
  return `t=${timestampSeconds},v1=${digest}`;
}

export interface Target {
  url: string;
  secret: string;
  allowPrivateAddresses: boolean;
}

export type AttemptResult =
  | { outcome: 'delivered' }
  /** Worth another try: the network, a timeout, 408, 429 or 5xx. */
  | { outcome: 'retry'; error: string }
  /** Not worth another try: a redirect, another 4xx, or a refused address. */
  | { outcome: 'failed' | 'refused'; error: string };

export type Resolver = (hostname: string) => Promise<Array<{ address: string; family: number }>>;

export const systemResolver: Resolver = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/** One POST of the event; never throws. */
export async function attemptDelivery(target: Target, body: string, options: { timeoutMs: number; resolve: Resolver; now: () => number }): Promise<AttemptResult> {
  const url = new URL(target.url);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: Array<{ address: string; family: number }>;
  try {
    addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await options.resolve(host);
  } catch (error) {
    return { outcome: 'retry', error: `could not resolve ${host}: ${(error as Error).message}` };
  }
  if (addresses.length === 0) return { outcome: 'retry', error: `${host} resolves to no address` };
  if (!target.allowPrivateAddresses) {
    const blocked = addresses.find((a) => isPrivateAddress(a.address));
    if (blocked) return { outcome: 'refused', error: `${host} resolves to ${blocked.address}, a loopback or private address (allowPrivateAddresses is off)` };
  }
  const pinned = addresses[0]!;
  // Connect to the address checked above, not to whatever a second lookup would return.
  const lookup: LookupFunction = (_hostname, lookupOptions, callback) => {
    if ((lookupOptions as { all?: boolean }).all) (callback as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [pinned]);
    else callback(null, pinned.address, pinned.family);
  };
  const timestamp = Math.floor(options.now() / 1000);
  const requestOptions: RequestOptions = {
    method: 'POST',
    lookup,
    timeout: options.timeoutMs,
    headers: {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'user-agent': 'tokengate-webhooks/1',
      [SIGNATURE_HEADER]: signatureHeader(target.secret, body, timestamp),
    },
  };
  return new Promise<AttemptResult>((resolve) => {
    const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, requestOptions, (response) => {
      response.resume(); // the body does not matter; drain it so the socket is freed
      const status = response.statusCode ?? 0;
      if (status >= 200 && status < 300) resolve({ outcome: 'delivered' });
      else if (status >= 300 && status < 400) resolve({ outcome: 'failed', error: `answered ${status} (redirects are not followed)` });
      else if (status === 408 || status === 429 || status >= 500) resolve({ outcome: 'retry', error: `answered ${status}` });
      else resolve({ outcome: 'failed', error: `answered ${status}` });
    });
    request.on('timeout', () => request.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
    request.on('error', (error) => resolve({ outcome: 'retry', error: error.message }));
    request.end(body);
  });
}
