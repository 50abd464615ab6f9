// Image files as data URLs, made by hand to the formats' specs: just enough bytes for a header that
// states the pixel size (what the gateway reads), followed by filler the gateway never decodes.

export type ImageFormat = 'png' | 'jpeg' | 'gif' | 'webp-vp8' | 'webp-vp8l' | 'webp-vp8x';

const MIME: Record<ImageFormat, string> = {
  png: 'image/png',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  'webp-vp8': 'image/webp',
  'webp-vp8l': 'image/webp',
  'webp-vp8x': 'image/webp',
};

export function imageBytes(format: ImageFormat, width: number, height: number): Buffer {
  const filler = Buffer.alloc(512, 0x5a);
  switch (format) {
    case 'png': {
      const ihdr = Buffer.alloc(25);
      ihdr.writeUInt32BE(13, 0);
      ihdr.write('IHDR', 4, 'latin1');
      ihdr.writeUInt32BE(width, 8);
      ihdr.writeUInt32BE(height, 12);
      ihdr.writeUInt8(8, 16); // bit depth, then colour type, compression, filter, interlace, CRC
      return Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), ihdr, filler]);
    }
    case 'gif': {
      const screen = Buffer.alloc(7);
      screen.writeUInt16LE(width, 0);
      screen.writeUInt16LE(height, 2);
      return Buffer.concat([Buffer.from('GIF89a', 'latin1'), screen, filler]);
    }
    case 'jpeg': {
      const app0 = Buffer.concat([Buffer.from([0xff, 0xe0, 0x00, 0x10]), Buffer.from('JFIF\0', 'latin1'), Buffer.alloc(9)]);
      // An EXIF-like segment with a fake thumbnail frame header inside: the reader must skip it by length.
      const decoy = Buffer.from([0xff, 0xc0, 0x00, 0x11, 0x08, 0x00, 0x10, 0x00, 0x10]);
      const app1 = Buffer.concat([Buffer.from([0xff, 0xe1, 0x01, 0x02]), decoy, Buffer.alloc(0x0102 - 2 - decoy.length, 0x11)]);
      const sof = Buffer.alloc(19);
      sof.writeUInt16BE(0xffc2, 0); // progressive
      sof.writeUInt16BE(17, 2);
      sof.writeUInt8(8, 4);
      sof.writeUInt16BE(height, 5);
      sof.writeUInt16BE(width, 7);
      sof.writeUInt8(3, 9);
      return Buffer.concat([Buffer.from([0xff, 0xd8]), app0, app1, sof, Buffer.from([0xff, 0xda]), filler]);
    }
    case 'webp-vp8': {
      const chunk = Buffer.alloc(18);
      chunk.write('VP8 ', 0, 'latin1');
      chunk.writeUInt32LE(filler.length + 10, 4);
      chunk.set([0x9d, 0x01, 0x2a], 11);
      chunk.writeUInt16LE(width, 14);
      chunk.writeUInt16LE(height, 16);
      return riff(chunk, filler);
    }
    case 'webp-vp8l': {
      const chunk = Buffer.alloc(13);
      chunk.write('VP8L', 0, 'latin1');
      chunk.writeUInt32LE(filler.length + 5, 4);
      chunk.writeUInt8(0x2f, 8);
      chunk.writeUInt32LE(((width - 1) | ((height - 1) << 14)) >>> 0, 9);
      return riff(chunk, filler);
    }
    case 'webp-vp8x': {
      const chunk = Buffer.alloc(18);
      chunk.write('VP8X', 0, 'latin1');
      chunk.writeUInt32LE(10, 4);
      chunk.writeUIntLE(width - 1, 12, 3);
      chunk.writeUIntLE(height - 1, 15, 3);
      return riff(chunk, filler);
    }
  }
}

function riff(chunk: Buffer, rest: Buffer): Buffer {
  const header = Buffer.alloc(12);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(4 + chunk.length + rest.length, 4);
  header.write('WEBP', 8, 'latin1');
  return Buffer.concat([header, chunk, rest]);
}

export function imageDataUrl(format: ImageFormat, width: number, height: number): string {
  return `data:${MIME[format]};base64,${imageBytes(format, width, height).toString('base64')}`;
}
