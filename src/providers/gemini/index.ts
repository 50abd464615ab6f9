// Google Gemini adapter: OpenAI chat completion bodies in, OpenAI-format bytes out, so the metering
// core stays provider-blind. The call goes through @google/genai (generateContent and
// streamGenerateContent?alt=sse, x-goog-api-key), with no retries and no automatic continuation: one
// client request is exactly one billed Google request. Timeouts and aborts follow the shared
// UpstreamDeadline, as for OpenAI.
import { ApiError, GoogleGenAI, type GenerateContentResponse } from '@google/genai';
import type { ChatProvider, ChatRequest, ChatResponse } from '../types.js';
import { UpstreamDeadline } from '../upstream-deadline.js';
import { blockedPromptError, mapGoogleError, parseGoogleError, type MappedError } from './errors.js';
import { planGeminiRequest, type GeminiPlan } from './request.js';
import { answerMeta, blockedPrompt, completionFrom, usageFrom } from './response.js';
import { ChunkTranslator, GeminiEventStream } from './stream.js';

export interface GeminiProviderOptions {
  /** GEMINI_BASE_URL; Google's own when unset. */
  baseUrl?: string;
  apiKey: string;
  timeoutMs: number;
}

const encoder = new TextEncoder();

export class GeminiProvider implements ChatProvider {
  readonly name = 'gemini';
  private readonly ai: GoogleGenAI;

  constructor(private readonly options: GeminiProviderOptions) {
    this.ai = new GoogleGenAI({ apiKey: options.apiKey, vertexai: false, ...(options.baseUrl ? { httpOptions: { baseUrl: options.baseUrl } } : {}) });
  }

  async chat(request: ChatRequest): Promise<ChatResponse> {
    const plan = planGeminiRequest(request.body); // a 400 here: Google is never called
    const passHeaders: Record<string, string> = plan.ignored.length > 0 ? { 'x-tokengate-ignored-params': plan.ignored.join(', ') } : {};
    const deadline = new UpstreamDeadline('Gemini', this.options.timeoutMs, request.signal);
    const params = { ...plan.params, config: { ...plan.params.config, abortSignal: deadline.signal, automaticContinuation: false } };
    try {
      if (!request.stream) {
        const response = await this.ai.models.generateContent(params);
        deadline.dispose();
        return answer(response, plan, passHeaders);
      }
      const stream = await this.ai.models.generateContentStream(params);
      const upstream = stream[Symbol.asyncIterator]();
      // The timeout covers the first event too: a blocked prompt or an error shows there, and then
      // the client gets an error response instead of a stream.
      const first = await upstream.next();
      deadline.streamStarted();
      const firstResponse = first.done ? null : first.value;
      const blocked = firstResponse ? blockedPrompt(firstResponse) : null;
      if (blocked && firstResponse) {
        deadline.abort();
        return errorResponse(blockedPromptError(blocked, usageFrom(firstResponse.usageMetadata)), passHeaders);
      }
      const translator = new ChunkTranslator(answerMeta(firstResponse ?? undefined, plan.params.model), plan.includeUsage);
      return { kind: 'stream', status: 200, passHeaders, chunks: new GeminiEventStream(upstream, translator, deadline, firstResponse) };
    } catch (error) {
      if (error instanceof ApiError && !deadline.callerAborted) {
        deadline.abort(); // closes a stream whose first event was the error; a no-op for a read answer
        return errorResponse(mapGoogleError(error.status, parseGoogleError(error.message), plan.params.model), passHeaders);
      }
      throw deadline.explain(error);
    }
  }
}

function answer(response: GenerateContentResponse, plan: GeminiPlan, passHeaders: Record<string, string>): ChatResponse {
  const blocked = blockedPrompt(response);
  if (blocked) return errorResponse(blockedPromptError(blocked, usageFrom(response.usageMetadata)), passHeaders);
  const completion = completionFrom(response, answerMeta(response, plan.params.model));
  return { kind: 'buffered', status: 200, passHeaders, bytes: encoder.encode(JSON.stringify(completion)) };
}

function errorResponse(error: MappedError, passHeaders: Record<string, string>): ChatResponse {
  return { kind: 'buffered', status: error.status, passHeaders: { ...passHeaders, ...error.headers }, bytes: encoder.encode(JSON.stringify(error.body)) };
}
