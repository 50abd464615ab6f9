/**
 * Prompt tokens of input images, by the rules OpenAI publishes (images-vision guide, "Calculating
 * costs"), per model (`imageTokens` in config/models.json):
 * - tiles (gpt-4o, gpt-4.1: 85 + 170 a tile; gpt-4o-mini: 2,833 + 5,667): fit the image in
 *   2048x2048, scale it so its short side is at most 768 px, count the 512 px tiles that cover it,
 *   add the base. `detail: low` costs the base alone. At most 2 x 4 tiles fit, so 8 is the worst case.
 * - patches (gpt-4.1-mini x1.62, gpt-4.1-nano x2.46, o4-mini x1.72): the 32 px patches covering the
 *   image, at most 1,536 (a larger image is scaled down until it fits), times the multiplier. These
 *   models ignore `detail`, so `low` is not cheaper.
 * Every rounding goes up (ceil on scaled sides and on the multiplied count), so the estimate is never
 * below the rule. The pixel size is read from the header of a base64 data URL (PNG, JPEG, GIF, WebP);
 * an http(s) URL, an unreadable header or any other format costs the model's worst case.
 */
import type { ImageTokenRule } from '../billing/price-table.js';

export type ImageSize = { width: number; height: number };
export type ImageDetail = 'low' | 'high' | 'auto';

const TILE_FIT_BOX = 2048;
const TILE_SHORT_SIDE = 768;
const TILE_SIZE = 512;
const MAX_TILES = 2 * 4;
const PATCH_SIZE = 32;
const MAX_PATCHES = 1536;

/** Tokens for one image: `size` null means unknown (the rule's worst case). */
export function imageTokens(rule: ImageTokenRule, detail: ImageDetail, size: ImageSize | null): number {
  if (rule.kind === 'tiles') {
    if (detail === 'low') return rule.baseTokens;
    return rule.baseTokens + rule.tileTokens * (size ? tileCount(size) : MAX_TILES);
  }
  const patches = size ? Math.min(MAX_PATCHES, Math.ceil(size.width / PATCH_SIZE) * Math.ceil(size.height / PATCH_SIZE)) : MAX_PATCHES;
  return Math.ceil((patches * Math.round(rule.multiplier * 100)) / 100);
}

/** The most an image can cost under this rule, whatever its size and detail. */
export function worstImageTokens(rule: ImageTokenRule): number {
  return imageTokens(rule, 'high', null);
}

function tileCount({ width, height }: ImageSize): number {
  let w = width;
  let h = height;
  // Integer ratios: an exact quotient stays exact, any other is rounded up.
  const longest = Math.max(w, h);
  if (longest > TILE_FIT_BOX) {
    w = Math.ceil((w * TILE_FIT_BOX) / longest);
    h = Math.ceil((h * TILE_FIT_BOX) / longest);
  }
  const shortest = Math.min(w, h);
  if (shortest > TILE_SHORT_SIDE) {
    w = Math.ceil((w * TILE_SHORT_SIDE) / shortest);
    h = Math.ceil((h * TILE_SHORT_SIDE) / shortest);
  }
  return Math.min(MAX_TILES, Math.ceil(w / TILE_SIZE) * Math.ceil(h / TILE_SIZE));
}

const BASE64_GROUPS = /^[A-Za-z0-9+/_-]*={0,2}$/;
const DATA_URL = /^data:([^,;]*)((?:;[^,;]*)*?);base64,/i;
/** A JPEG's frame header may follow many metadata segments; stop looking after this many. */
const MAX_JPEG_SEGMENTS = 512;

/** The pixel size of a base64 data URL's image, or null when it cannot be read from the header. */
export function imageSizeFromUrl(url: string): ImageSize | null {
  const prefix = DATA_URL.exec(url.slice(0, 256));
  if (!prefix) return null;
  const bytes = new Base64Bytes(url, prefix[0].length);
  const size = pngSize(bytes) ?? gifSize(bytes) ?? webpSize(bytes) ?? jpegSize(bytes);
  return size && size.width > 0 && size.height > 0 ? size : null;
}

/** Decoded bytes of a base64 payload, computed from its length alone (no decoding). */
export function base64DecodedLength(text: string, start = 0): number {
  let end = text.length;
  while (end > start && text.charCodeAt(end - 1) === 61 /* = */) end--;
  return Math.floor(((end - start) * 3) / 4);
}

/** Random access to the bytes of a base64 payload, decoding only the 4-character groups asked for. */
class Base64Bytes {
  constructor(
    private readonly text: string,
    private readonly start: number,
  ) {}

  /** Bytes [offset, offset + length), or null past the end or where the text is not plain base64. */
  read(offset: number, length: number): Buffer | null {
    const first = Math.floor(offset / 3);
    const last = Math.ceil((offset + length) / 3);
    const chars = this.text.slice(this.start + first * 4, this.start + last * 4);
    // Whitespace or other characters would shift every later offset: such a payload counts as unreadable.
    if (!BASE64_GROUPS.test(chars)) return null;
    const decoded = Buffer.from(chars, 'base64').subarray(offset - first * 3, offset - first * 3 + length);
    return decoded.length === length ? decoded : null;
  }

  matches(offset: number, ascii: string): boolean {
    return this.read(offset, ascii.length)?.toString('latin1') === ascii;
  }
}

function pngSize(bytes: Base64Bytes): ImageSize | null {
  if (!bytes.matches(0, '\x89PNG\r\n\x1a\n') || !bytes.matches(12, 'IHDR')) return null;
  const header = bytes.read(16, 8);
  return header && { width: header.readUInt32BE(0), height: header.readUInt32BE(4) };
}

function gifSize(bytes: Base64Bytes): ImageSize | null {
  if (!bytes.matches(0, 'GIF87a') && !bytes.matches(0, 'GIF89a')) return null;
  const screen = bytes.read(6, 4);
  return screen && { width: screen.readUInt16LE(0), height: screen.readUInt16LE(2) };
}

function webpSize(bytes: Base64Bytes): ImageSize | null {
  if (!bytes.matches(0, 'RIFF') || !bytes.matches(8, 'WEBP')) return null;
  const chunk = bytes.read(12, 18);
  if (!chunk) return null;
  switch (chunk.toString('latin1', 0, 4)) {
    case 'VP8 ': // lossy: 14-bit sizes after the frame tag and start code
      return { width: chunk.readUInt16LE(14) & 0x3fff, height: chunk.readUInt16LE(16) & 0x3fff };
    case 'VP8L': {
      // lossless: signature byte, then width-1 and height-1 in 14 bits each
      const bits = chunk.readUInt32LE(9);
      return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
    }
    case 'VP8X': // extended: 24-bit canvas width-1 and height-1
      return { width: chunk.readUIntLE(12, 3) + 1, height: chunk.readUIntLE(15, 3) + 1 };
    default:
      return null;
  }
}

function jpegSize(bytes: Base64Bytes): ImageSize | null {
  if (!bytes.matches(0, '\xff\xd8')) return null;
  let offset = 2;
  for (let segment = 0; segment < MAX_JPEG_SEGMENTS; segment++) {
    const marker = bytes.read(offset, 4);
    if (!marker || marker[0] !== 0xff) return null;
    const type = marker[1]!;
    if (type === 0xff) {
      offset += 1; // fill byte
      continue;
    }
    if (type === 0xd8 || type === 0x01 || (type >= 0xd0 && type <= 0xd7)) {
      offset += 2; // markers without a length
      continue;
    }
    if (type === 0xd9 || type === 0xda) return null; // end of image, or scan data before any frame header
    // Start of frame (any coding) carries the size: C0-CF except C4 (tables), C8 (reserved), CC (arithmetic tables).
    if (type >= 0xc0 && type <= 0xcf && type !== 0xc4 && type !== 0xc8 && type !== 0xcc) {
      const frame = bytes.read(offset + 5, 4);
      return frame && { width: frame.readUInt16BE(2), height: frame.readUInt16BE(0) };
    }
    offset += 2 + marker.readUInt16BE(2);
  }
  return null;
}
