import { describe, expect, it } from 'vitest';
import { SseFrameSplitter } from '../../src/metering/sse-frames.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Feeds `reads` and returns the frames as text, with the end-of-input frames last. */
function split(reads: string[]): string[] {
  const splitter = new SseFrameSplitter();
  const frames = reads.flatMap((read) => splitter.push(encoder.encode(read)));
  return [...frames, ...splitter.end()].map((frame) => decoder.decode(frame));
}

describe('SseFrameSplitter', () => {
  it.each([
    { name: 'LF events', reads: ['data: a\n\ndata: b\n\n'], frames: ['data: a\n\n', 'data: b\n\n'] },
    { name: 'CRLF events', reads: ['data: a\r\n\r\ndata: b\r\n\r\n'], frames: ['data: a\r\n\r\n', 'data: b\r\n\r\n'] },
    { name: 'CR events', reads: ['data: a\r\rdata: b\r\r'], frames: ['data: a\r\r', 'data: b\r\r'] },
    { name: 'mixed line endings', reads: ['event: x\r\ndata: a\n\r\n'], frames: ['event: x\r\ndata: a\n\r\n'] },
    { name: 'multi-line events', reads: ['id: 1\ndata: a\ndata: b\n\n'], frames: ['id: 1\ndata: a\ndata: b\n\n'] },
    { name: 'a comment frame', reads: [': keep-alive\n\ndata: a\n\n'], frames: [': keep-alive\n\n', 'data: a\n\n'] },
    { name: 'a stray leading blank line', reads: ['\ndata: a\n\n'], frames: ['\n', 'data: a\n\n'] },
    { name: 'an unterminated last event', reads: ['data: a\n\ndata: [DONE]'], frames: ['data: a\n\n', 'data: [DONE]'] },
    { name: 'a last event with one newline', reads: ['data: [DONE]\n'], frames: ['data: [DONE]\n'] },
    { name: 'CRLF split between CR and LF', reads: ['data: a\r\n\r', '\ndata: b\r\n\r\n'], frames: ['data: a\r\n\r\n', 'data: b\r\n\r\n'] },
    { name: 'a trailing CR decided at the end', reads: ['data: a\r\r'], frames: ['data: a\r\r'] },
    { name: 'a CR then a new line', reads: ['data: a\r\r', 'data: b\r\r'], frames: ['data: a\r\r', 'data: b\r\r'] },
  ])('splits $name', ({ reads, frames }) => {
    expect(split(reads)).toEqual(frames);
  });

  it('waits for the byte after a trailing CR before cutting', () => {
    const splitter = new SseFrameSplitter();
    expect(splitter.push(encoder.encode('data: a\r\n\r'))).toEqual([]);
    expect(splitter.push(encoder.encode('\n')).map((frame) => decoder.decode(frame))).toEqual(['data: a\r\n\r\n']);
  });
});
