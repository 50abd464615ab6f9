// Cuts a Server-Sent Events byte stream into frames without decoding or altering a byte.

const LF = 0x0a;
const CR = 0x0d;

/**
 * A frame is everything up to and including the blank line that ends one SSE event, exactly as it
 * arrived. Lines end in LF, CRLF or a lone CR (the SSE spec allows all three), and a read may stop
 * anywhere, even between the CR and LF of one line ending, so a CR at the end of the buffered
 * bytes is decided only once the next byte (or the end of the stream) is known.
 */
export class SseFrameSplitter {
  private buffer: Uint8Array = new Uint8Array(0);
  /** Bytes of `buffer` before this index are already scanned. */
  private scanFrom = 0;
  /** Whether the line being scanned has no bytes yet, so its terminator makes it blank. */
  private lineIsEmpty = true;

  /** Adds bytes and returns the frames they complete. */
  push(chunk: Uint8Array): Uint8Array[] {
    this.buffer = this.buffer.length === 0 ? chunk : concat(this.buffer, chunk);
    return this.takeFrames(false);
  }

  /** Ends the input: returns the last complete frames and then any unterminated remainder. */
  end(): Uint8Array[] {
    const frames = this.takeFrames(true);
    if (this.buffer.length > 0) frames.push(this.buffer);
    this.buffer = new Uint8Array(0);
    this.scanFrom = 0;
    this.lineIsEmpty = true;
    return frames;
  }

  private takeFrames(atEnd: boolean): Uint8Array[] {
    const buffer = this.buffer;
    const frames: Uint8Array[] = [];
    let frameStart = 0;
    let index = this.scanFrom;
    while (index < buffer.length) {
      const byte = buffer[index];
      if (byte !== LF && byte !== CR) {
        this.lineIsEmpty = false;
        index++;
        continue;
      }
      const lastByte = index + 1 === buffer.length;
      if (byte === CR && lastByte && !atEnd) break;
      const lineEnd = byte === CR && buffer[index + 1] === LF ? index + 2 : index + 1;
      if (this.lineIsEmpty) {
        frames.push(buffer.subarray(frameStart, lineEnd));
        frameStart = lineEnd;
      }
      this.lineIsEmpty = true;
      index = lineEnd;
    }
    this.buffer = buffer.subarray(frameStart);
    this.scanFrom = index - frameStart;
    return frames;
  }
}

function concat(head: Uint8Array, tail: Uint8Array): Uint8Array {
  const joined = new Uint8Array(head.length + tail.length);
  joined.set(head, 0);
  joined.set(tail, head.length);
  return joined;
}
