// A Responses API `input` (and `instructions`) -> OpenAI chat messages (pure), which the chat
// translation (messages.ts) then turns into Gemini's contents. Everything that could fail there is
// checked here first, so a 400 names the Responses field (`input[2].call_id`), not a chat one.
//
// - `instructions` and system/developer messages become system messages (Gemini's systemInstruction).
// - message items: input_text, input_image (a data URL or an http(s) URL) and input_audio for users;
//   output_text and refusal for the assistant.
// - function_call items join the assistant turn they follow (consecutive calls are one turn, as Gemini
//   pairs results with calls in order); function_call_output items become tool messages, matched to
//   their call by call_id.
// - Stateless: item_reference points at a stored item, and Gemini responses are never stored (400).
//   Reasoning items (another model's private thoughts, opaque to Gemini) are left out.
import { ApiError, badRequest } from '../../http/errors.js';
import { isJsonObject, type JsonObject } from '../../metering/guards.js';
import type { ChatMessage } from './schema.js';

type AssistantMessage = Extract<ChatMessage, { role: 'assistant' }>;
type UserMessage = Extract<ChatMessage, { role: 'user' }>;
type UserParts = Exclude<UserMessage['content'], string>;

/** The 400 for anything that needs a stored response. */
export function notStored(what: string, param: string): ApiError {
  return badRequest(
    `${what}: Gemini models are served statelessly through /v1/responses (their responses are never stored). Send the whole conversation in 'input' instead, with store: false or store left out.`,
    param,
    'unsupported_parameter',
  );
}

export function inputMessages(input: unknown, instructions: string | null | undefined): ChatMessage[] {
  const walk = new InputWalk();
  if (typeof instructions === 'string' && instructions !== '') walk.messages.push({ role: 'system', content: instructions });
  if (typeof input === 'string') walk.messages.push({ role: 'user', content: input });
  else if (Array.isArray(input)) input.forEach((item, index) => walk.item(item, `input[${index}]`));
  else if (input != null) throw badRequest("'input' must be a string or an array of input items.", 'input');
  if (!walk.messages.some((message) => message.role === 'user' || message.role === 'assistant')) {
    throw badRequest('Gemini models need at least one user or assistant message in input.', 'input');
  }
  return walk.messages;
}

class InputWalk {
  readonly messages: ChatMessage[] = [];
  private readonly callIds = new Set<string>();
  /** The assistant turn that following function_call items join; closed by any other item. */
  private turn: AssistantMessage | null = null;

  item(item: unknown, at: string): void {
    if (!isJsonObject(item)) throw badRequest(`'${at}' must be an input item object.`, at);
    const type = item.type ?? (typeof item.role === 'string' ? 'message' : undefined);
    if (type === 'function_call') return this.functionCall(item, at);
    this.turn = null;
    switch (type) {
      case 'message':
        return this.message(item, at);
      case 'function_call_output':
        return this.functionOutput(item, at);
      case 'item_reference':
        throw notStored(`'${at}' is an item_reference`, at);
      case 'reasoning':
        return;
      default:
        throw badRequest(`'${at}' is a ${typeof type === 'string' ? `'${type}'` : 'typeless'} item, which Gemini models do not take through this gateway (message, function_call and function_call_output items only).`, `${at}.type`, 'unsupported_parameter');
    }
  }

  private message(item: JsonObject, at: string): void {
    const { role, content } = item;
    if (typeof content !== 'string' && !Array.isArray(content)) throw badRequest(`'${at}.content' must be a string or an array of content parts.`, `${at}.content`);
    switch (role) {
      case 'user':
        this.messages.push({ role: 'user', content: typeof content === 'string' ? content : content.flatMap((part, i) => userPart(part, `${at}.content[${i}]`)) });
        return;
      case 'system':
      case 'developer':
        this.messages.push({ role: 'system', content: textOf(content, `${at}.content`, ['input_text']) });
        return;
      case 'assistant':
        this.turn = { role: 'assistant', content: textOf(content, `${at}.content`, ['output_text', 'refusal', 'input_text']) };
        this.messages.push(this.turn);
        return;
      default:
        throw badRequest(`'${at}.role' must be user, assistant, system or developer.`, `${at}.role`);
    }
  }

  private functionCall(item: JsonObject, at: string): void {
    const callId = nonEmpty(item.call_id, `${at}.call_id`);
    const name = nonEmpty(item.name, `${at}.name`);
    const args = typeof item.arguments === 'string' ? item.arguments : '';
    if (!isJsonObjectText(args)) throw badRequest(`'${at}.arguments' must be a JSON object, as the model wrote it.`, `${at}.arguments`);
    this.callIds.add(callId);
    if (!this.turn) {
      this.turn = { role: 'assistant', content: null };
      this.messages.push(this.turn);
    }
    this.turn.tool_calls = [...(this.turn.tool_calls ?? []), { id: callId, type: 'function', function: { name, arguments: args } }];
  }

  private functionOutput(item: JsonObject, at: string): void {
    const callId = nonEmpty(item.call_id, `${at}.call_id`);
    if (!this.callIds.has(callId)) throw badRequest(`'${at}.call_id' (${callId}) does not match a function_call item earlier in input.`, `${at}.call_id`);
    const { output } = item;
    let content: string;
    if (typeof output === 'string') content = output;
    else if (Array.isArray(output)) content = textOf(output, `${at}.output`, ['input_text']);
    else throw badRequest(`'${at}.output' must be a string or an array of input_text parts.`, `${at}.output`);
    this.messages.push({ role: 'tool', tool_call_id: callId, content });
  }
}

function userPart(part: unknown, at: string): UserParts {
  if (!isJsonObject(part)) throw badRequest(`'${at}' must be a content part object.`, at);
  switch (part.type) {
    case 'input_text':
      return [{ type: 'text', text: stringAt(part.text, `${at}.text`) }];
    case 'input_image': {
      if (typeof part.image_url !== 'string' || part.image_url === '') {
        throw badRequest(`'${at}' must carry an image_url (a data URL or an http(s) URL): OpenAI file ids mean nothing to Gemini.`, `${at}.image_url`, 'unsupported_content');
      }
      const url = part.image_url;
      if (!url.startsWith('data:') && !/^https?:\/\//i.test(url)) throw badRequest(`'${at}.image_url' must be an http(s) URL or a base64 data URL.`, `${at}.image_url`);
      return [{ type: 'image_url', image_url: { url } }];
    }
    case 'input_audio': {
      const audio = isJsonObject(part.input_audio) ? part.input_audio : {};
      if (typeof audio.data !== 'string' || audio.data === '' || (audio.format !== 'wav' && audio.format !== 'mp3')) {
        throw badRequest(`'${at}.input_audio' must carry base64 data and a format of wav or mp3.`, `${at}.input_audio`);
      }
      return [{ type: 'input_audio', input_audio: { data: audio.data, format: audio.format } }];
    }
    case 'input_file':
      throw badRequest(`'${at}' is an input_file part: files are not accepted on /v1/responses yet (send them through /v1/chat/completions).`, at, 'unsupported_content');
    default:
      throw badRequest(`'${at}.type' must be input_text, input_image or input_audio.`, `${at}.type`);
  }
}

/** The text of a string, or of the parts of an array (at `partsAt`), each of one of the given types. */
function textOf(content: string | unknown[], partsAt: string, types: readonly string[]): string {
  if (typeof content === 'string') return content;
  return content
    .map((part, i) => {
      const at = `${partsAt}[${i}]`;
      if (!isJsonObject(part) || typeof part.type !== 'string' || !types.includes(part.type)) throw badRequest(`'${at}' must be a ${types.join(' or ')} part for Gemini models.`, at);
      return part.type === 'refusal' ? stringAt(part.refusal, `${at}.refusal`) : stringAt(part.text, `${at}.text`);
    })
    .join('');
}

function stringAt(value: unknown, at: string): string {
  if (typeof value !== 'string') throw badRequest(`'${at}' must be a string.`, at);
  return value;
}

function nonEmpty(value: unknown, at: string): string {
  if (typeof value !== 'string' || value === '') throw badRequest(`'${at}' must be a non-empty string.`, at);
  return value;
}

function isJsonObjectText(text: string): boolean {
  if (text.trim() === '') return true; // no arguments
  try {
    return isJsonObject(JSON.parse(text));
  } catch {
    return false;
  }
}
