// Gemini answers -> OpenAI's chat.completion (pure): text, tool calls with ids, finish reasons, usage.
import type { Candidate, FunctionCall, GenerateContentResponse, GenerateContentResponseUsageMetadata, Part } from '@google/genai';
import { newId } from '../../lib/ids.js';

export interface OpenAIUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
  completion_tokens_details: { reasoning_tokens: number };
}

export interface OpenAIToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter';

/** What every chunk and completion of one answer shares. */
export interface AnswerMeta {
  id: string;
  model: string;
  created: number;
}

const count = (value: number | undefined): number => (Number.isSafeInteger(value) && value! >= 0 ? value! : 0);

/**
 * Gemini's usage as OpenAI's, so the metering core stays provider-blind. Prompt = promptTokenCount
 * plus toolUsePromptTokenCount (input Google bills for its built-in tools; 0 here); cached =
 * cachedContentTokenCount (a subset of the prompt); completion = candidatesTokenCount +
 * thoughtsTokenCount (Google bills thoughts as output); reasoning = thoughtsTokenCount.
 * Null when Google reported no prompt count: the core then estimates.
 */
export function usageFrom(metadata: GenerateContentResponseUsageMetadata | undefined): OpenAIUsage | null {
  if (!metadata || !Number.isSafeInteger(metadata.promptTokenCount) || metadata.promptTokenCount! < 0) return null;
  const prompt = count(metadata.promptTokenCount) + count(metadata.toolUsePromptTokenCount);
  const thoughts = count(metadata.thoughtsTokenCount);
  const completion = count(metadata.candidatesTokenCount) + thoughts;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: Math.min(count(metadata.cachedContentTokenCount), prompt) },
    completion_tokens_details: { reasoning_tokens: thoughts },
  };
}

const FILTERED = new Set(['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'IMAGE_SAFETY', 'IMAGE_PROHIBITED_CONTENT', 'IMAGE_RECITATION']);

/** Gemini's finishReason as OpenAI's: a stop that made tool calls is `tool_calls`; filters are `content_filter`. */
export function finishReasonOf(reason: string | undefined, madeToolCalls: boolean): FinishReason {
  if (reason === 'MAX_TOKENS') return 'length';
  if (reason !== undefined && FILTERED.has(reason)) return 'content_filter';
  return madeToolCalls ? 'tool_calls' : 'stop';
}

/** Gemini's own call id when it gives one, else a fresh OpenAI-style id (Gemini never needs it back). */
export function toolCallOf(call: FunctionCall): OpenAIToolCall {
  return { id: call.id || newId('call', 18), type: 'function', function: { name: call.name ?? '', arguments: JSON.stringify(call.args ?? {}) } };
}

/** Parts a client sees: thought summaries (only sent when asked for, which the gateway never does) are left out. */
export function visibleParts(candidate: Candidate | undefined): Part[] {
  return (candidate?.content?.parts ?? []).filter((part) => part.thought !== true);
}

/** Whether Google refused the prompt itself (HTTP 200 with promptFeedback.blockReason and no candidates). */
export function blockedPrompt(response: GenerateContentResponse): string | null {
  const reason = response.promptFeedback?.blockReason;
  if (!reason || (response.candidates?.length ?? 0) > 0) return null;
  return String(reason);
}

export function completionFrom(response: GenerateContentResponse, meta: AnswerMeta): Record<string, unknown> {
  const candidate = response.candidates?.[0];
  const parts = visibleParts(candidate);
  const text = parts.map((part) => part.text ?? '').join('');
  const toolCalls = parts.flatMap((part) => (part.functionCall ? [toolCallOf(part.functionCall)] : []));
  const usage = usageFrom(response.usageMetadata);
  return {
    id: meta.id,
    object: 'chat.completion',
    created: meta.created,
    model: meta.model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: text === '' && toolCalls.length > 0 ? null : text,
          refusal: null,
          ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
        },
        logprobs: null,
        finish_reason: finishReasonOf(candidate?.finishReason, toolCalls.length > 0),
      },
    ],
    ...(usage ? { usage } : {}),
  };
}

/** `chatcmpl-` and Google's response id when it gives one. */
export function answerMeta(response: GenerateContentResponse | undefined, model: string): AnswerMeta {
  return {
    id: `chatcmpl-${response?.responseId ?? newId('gemini', 12).slice('gemini_'.length)}`,
    model: response?.modelVersion ?? model,
    created: Math.floor(Date.now() / 1000),
  };
}
