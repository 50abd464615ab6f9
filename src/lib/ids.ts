// Prefixed, URL-safe random ids (acct_..., key_..., req_...) so an id tells what it names.
import { randomBytes } from 'node:crypto';

export const newId = (prefix: string, bytes = 12) => `${prefix}_${randomBytes(bytes).toString('base64url')}`;
