// OpenAI chat messages -> Gemini `contents` and `systemInstruction` (pure).
//
// - system and developer messages, wherever they are, become the systemInstruction, in order.
// - user -> role "user"; assistant -> role "model"; consecutive turns of one role are merged, as
//   Gemini expects turns to alternate.
// - Images: a base64 data URL is sent inline (inlineData); an http(s) URL is passed as fileData for
//   Google to fetch (the gateway never fetches client URLs itself); its MIME type comes from the file
//   extension (image/jpeg when unknown). Audio (wav, mp3) and files given as data URLs go inline.
// - Tool calls: Gemini has no call ids. An assistant's tool_calls become functionCall parts (name and
//   parsed arguments); each tool message is mapped back to its call through tool_call_id, which names
//   the function, and the results of one turn are sent as functionResponse parts in the order of the
//   calls, which is how Gemini pairs them. Ids are never sent to Google.
import type { Content, Part } from '@google/genai';
import { badRequest } from '../../http/errors.js';
import type { ChatMessage, UserPart } from './schema.js';

export interface TranslatedMessages {
  systemInstruction?: Content;
  contents: Content[];
}

interface CallRef {
  name: string;
  /** Position of the call in its assistant message: tool results are sent back in this order. */
  position: number;
}

export function translateMessages(messages: readonly ChatMessage[]): TranslatedMessages {
  const system: Part[] = [];
  const contents: Content[] = [];
  const calls = new Map<string, CallRef>();
  let pendingResults: { ref: CallRef; part: Part }[] = [];

  const push = (role: 'user' | 'model', parts: Part[]) => {
    if (parts.length === 0) return;
    const last = contents.at(-1);
    if (last?.role === role) last.parts = [...(last.parts ?? []), ...parts];
    else contents.push({ role, parts });
  };
  const flushResults = () => {
    push('user', pendingResults.sort((a, b) => a.ref.position - b.ref.position).map((result) => result.part));
    pendingResults = [];
  };

  messages.forEach((message, index) => {
    const at = `messages.${index}`;
    if (message.role !== 'tool') flushResults();
    switch (message.role) {
      case 'system':
      case 'developer':
        system.push(...textParts(message.content));
        return;
      case 'user':
        push('user', typeof message.content === 'string' ? textParts(message.content) : message.content.flatMap((part, i) => userPart(part, `${at}.content.${i}`)));
        return;
      case 'assistant': {
        const parts: Part[] = message.content == null ? [] : textParts(typeof message.content === 'string' ? message.content : message.content.map((part) => ('text' in part ? part.text : part.refusal)).join(''));
        (message.tool_calls ?? []).forEach((call, position) => {
          calls.set(call.id, { name: call.function.name, position });
          parts.push({ functionCall: { name: call.function.name, args: parseArguments(call.function.arguments, `${at}.tool_calls.${position}.function.arguments`) } });
        });
        push('model', parts);
        return;
      }
      case 'tool': {
        const ref = calls.get(message.tool_call_id);
        if (!ref) throw badRequest(`'${at}.tool_call_id' (${message.tool_call_id}) does not match a tool call of an earlier assistant message.`, `${at}.tool_call_id`);
        pendingResults.push({ ref, part: { functionResponse: { name: ref.name, response: resultObject(joinText(message.content)) } } });
        return;
      }
    }
  });
  flushResults();

  if (contents.length === 0) throw badRequest('Gemini models need at least one user or assistant message with content.', 'messages');
  return { ...(system.length > 0 ? { systemInstruction: { parts: system } } : {}), contents };
}

function joinText(content: string | readonly { text: string }[]): string {
  return typeof content === 'string' ? content : content.map((part) => part.text).join('');
}

/** Gemini refuses empty text parts: empty strings are left out. */
function textParts(content: string | readonly { text: string }[]): Part[] {
  const parts = typeof content === 'string' ? [content] : content.map((part) => part.text);
  return parts.filter((text) => text !== '').map((text) => ({ text }));
}

function userPart(part: UserPart, at: string): Part[] {
  switch (part.type) {
    case 'text':
      return textParts(part.text);
    case 'image_url':
      return [imagePart(part.image_url.url, `${at}.image_url.url`)];
    case 'input_audio':
      return [{ inlineData: { mimeType: `audio/${part.input_audio.format}`, data: part.input_audio.data } }];
    case 'file': {
      const data = part.file.file_data;
      if (!data) throw badRequest(`'${at}.file' must carry file_data: OpenAI file ids mean nothing to Gemini.`, `${at}.file`);
      return [inlinePart(data, `${at}.file.file_data`)];
    }
  }
}

function imagePart(url: string, at: string): Part {
  if (url.startsWith('data:')) return inlinePart(url, at);
  if (/^https?:\/\//i.test(url)) return { fileData: { fileUri: url, mimeType: imageTypeOf(url) } };
  throw badRequest(`'${at}' must be an http(s) URL or a base64 data URL.`, at);
}

const DATA_URL = /^data:([\w.+-]+\/[\w.+-]+)(?:;[\w-]+=[^;,]*)*;base64,(.*)$/s;

function inlinePart(dataUrl: string, at: string): Part {
  const match = DATA_URL.exec(dataUrl);
  if (!match) throw badRequest(`'${at}' must be a base64 data URL (data:<type>;base64,<data>).`, at);
  return { inlineData: { mimeType: match[1]!, data: match[2]! } };
}

const IMAGE_TYPES: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  heic: 'image/heic',
  heif: 'image/heif',
  gif: 'image/gif',
};

export function imageTypeOf(url: string): string {
  let pathname = url;
  try {
    pathname = new URL(url).pathname;
  } catch {
    // not a parsable URL: Google will say so
  }
  const extension = /\.([a-z0-9]+)$/i.exec(pathname)?.[1]?.toLowerCase() ?? '';
  return IMAGE_TYPES[extension] ?? 'image/jpeg';
}

function parseArguments(text: string, at: string): Record<string, unknown> {
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw badRequest(`'${at}' is not valid JSON.`, at);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw badRequest(`'${at}' must be a JSON object.`, at);
  return parsed as Record<string, unknown>;
}

/** A JSON object result is passed as is; anything else goes under `output`, as Google recommends. */
function resultObject(text: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // plain text
  }
  return { output: text };
}
