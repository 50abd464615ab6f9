// Google Gemini adapter: OpenAI chat completion and Responses bodies in, OpenAI-format bytes out, so
// the metering core stays provider-blind. Generation goes through @google/genai (generateContent and
// streamGenerateContent?alt=sse, x-goog-api-key), with no retries and no automatic continuation: one
// client request is exactly one billed Google request. Embeddings go over plain HTTP (embeddings.ts).
// Timeouts and aborts follow the shared UpstreamDeadline, as for OpenAI.
import { ApiError, GoogleGenAI, type GenerateContentResponse, type GenerateContentResponseUsageMetadata } from '@google/genai';
import { GoogleRest } from '../google-rest.js';
import type { ChatProvider, ChatRequest, ChatResponse, EndpointRequest, StatelessResponses } from '../types.js';
import { UpstreamDeadline } from '../upstream-deadline.js';
import { geminiEmbeddings } from './embeddings.js';
import { blockedPromptError, errorResponse, mapGoogleError, parseGoogleError, type MappedError } from './errors.js';
import { planGeminiRequest, type GeminiPlan } from './request.js';
import { answerMeta, blockedPrompt, completionFrom, usageFrom } from './response.js';
import { GEMINI_RESPONSE_ID_PREFIX, responseMeta, ResponsesTranslator, responsesUsageFrom } from './responses-output.js';
import { planResponsesRequest, type ResponsesPlan } from './responses-request.js';
import { ResponsesFrames } from './responses-stream.js';
import { ChatFrames, ChunkTranslator, GeminiEventStream, type FrameTranslator } from './stream.js';

export interface GeminiProviderOptions {
  /** GEMINI_BASE_URL; Google's own when unset. */
  baseUrl?: string;
  apiKey: string;
  timeoutMs: number;
}

/** How one wire format (chat completions, Responses) shows a Gemini answer. */
interface Rendering {
  /** A whole answer as the wire format's JSON body. */
  whole(response: GenerateContentResponse): object;
  /** The client's error for a prompt Google blocked, with the usage Google reported for it. */
  blocked(reason: string, usage: GenerateContentResponseUsageMetadata | undefined): MappedError;
  /** The frames of a stream whose first event is `first`. */
  frames(first: GenerateContentResponse | null): FrameTranslator;
}

const encoder = new TextEncoder();

export class GeminiProvider implements ChatProvider {
  readonly name = 'gemini';
  private readonly ai: GoogleGenAI;
  private readonly rest: GoogleRest;

  /** Gemini answers the Responses API by translation and stores nothing (README, "Gemini through /v1/responses"). */
  readonly statelessResponses: StatelessResponses = {
    check: (body) => void planResponsesRequest(body),
    ownsResponseId: (id) => id.startsWith(GEMINI_RESPONSE_ID_PREFIX),
  };

  constructor(private readonly options: GeminiProviderOptions) {
    this.ai = new GoogleGenAI({ apiKey: options.apiKey, vertexai: false, ...(options.baseUrl ? { httpOptions: { baseUrl: options.baseUrl } } : {}) });
    this.rest = new GoogleRest(options, 'Gemini');
  }

  chat(request: ChatRequest): Promise<ChatResponse> {
    const plan = planGeminiRequest(request.body); // a 400 here: Google is never called
    return this.generate(plan, plan.ignored, request, chatRendering(plan));
  }

  responses(request: EndpointRequest): Promise<ChatResponse> {
    const planned = planResponsesRequest(request.body);
    return this.generate(planned.plan, planned.ignored, request, responsesRendering(planned));
  }

  embeddings(request: EndpointRequest): Promise<ChatResponse> {
    return geminiEmbeddings(this.rest, request);
  }

  private async generate(plan: GeminiPlan, ignored: string[], request: { stream: boolean; signal: AbortSignal }, rendering: Rendering): Promise<ChatResponse> {
    const passHeaders: Record<string, string> = ignored.length > 0 ? { 'x-tokengate-ignored-params': ignored.join(', ') } : {};
    const deadline = new UpstreamDeadline('Gemini', this.options.timeoutMs, request.signal);
    const params = { ...plan.params, config: { ...plan.params.config, abortSignal: deadline.signal, automaticContinuation: false } };
    try {
      if (!request.stream) {
        const response = await this.ai.models.generateContent(params);
        deadline.dispose();
        const blocked = blockedPrompt(response);
        if (blocked) return errorResponse(rendering.blocked(blocked, response.usageMetadata), passHeaders);
        return { kind: 'buffered', status: 200, passHeaders, bytes: encoder.encode(JSON.stringify(rendering.whole(response))) };
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
        return errorResponse(rendering.blocked(blocked, firstResponse.usageMetadata), passHeaders);
      }
      return { kind: 'stream', status: 200, passHeaders, chunks: new GeminiEventStream(upstream, rendering.frames(firstResponse), deadline, firstResponse) };
    } catch (error) {
      if (error instanceof ApiError && !deadline.callerAborted) {
        deadline.abort(); // closes a stream whose first event was the error; a no-op for a read answer
        return errorResponse(mapGoogleError(error.status, parseGoogleError(error.message), plan.params.model), passHeaders);
      }
      throw deadline.explain(error);
    }
  }
}

function chatRendering(plan: GeminiPlan): Rendering {
  const model = plan.params.model;
  return {
    whole: (response) => completionFrom(response, answerMeta(response, model)),
    blocked: (reason, usage) => blockedPromptError(reason, usageFrom(usage)),
    frames: (first) => new ChatFrames(new ChunkTranslator(answerMeta(first ?? undefined, model), plan.includeUsage)),
  };
}

function responsesRendering({ plan, echo }: ResponsesPlan): Rendering {
  const model = plan.params.model;
  return {
    whole: (response) => {
      const translator = new ResponsesTranslator(responseMeta(response, model), echo);
      translator.push(response);
      return translator.final();
    },
    blocked: (reason, usage) => blockedPromptError(reason, responsesUsageFrom(usage), 'input'),
    frames: (first) => new ResponsesFrames(new ResponsesTranslator(responseMeta(first ?? undefined, model), echo)),
  };
}
