// Gemini image output through `models/{model}:generateContent` (pure translation both ways). Request:
// the prompt as one user turn, `generationConfig.responseModalities: ["IMAGE"]` and
// `imageConfig.aspectRatio`. Answer: images as `inlineData` parts ({mimeType, data}); a blocked
// prompt as `promptFeedback.blockReason`; a withheld image as a candidate without one, its
// `finishReason` saying why. `usageMetadata` becomes OpenAI's image usage, so the charge is Google's count.
import { isJsonObject, isNonNegativeInteger, type JsonObject } from '../../metering/guards.js';
import { contentPolicy } from './errors.js';
import { imageEntry, outputFormatOf, type GoogleImageOptions, type ModelAbilities } from './options.js';
import type { ImageTranslation, TranslatedAnswer } from './translation.js';

/** Gemini 2.5 Flash Image's sizes by aspect ratio; one image per request; PNG only on the Gemini API. */
export const GEMINI_IMAGE: ModelAbilities = {
  label: 'Gemini image output',
  sizes: {
    '1024x1024': '1:1',
    '832x1248': '2:3',
    '1248x832': '3:2',
    '864x1184': '3:4',
    '1184x864': '4:3',
    '896x1152': '4:5',
    '1152x896': '5:4',
    '768x1344': '9:16',
    '1344x768': '16:9',
    '1536x672': '21:9',
  },
  formats: ['png'],
  maxImages: 1,
};

/** Finish reasons that mean Google's filters withheld the image (rather than failing to make one). */
const WITHHELD = new Set(['SAFETY', 'IMAGE_SAFETY', 'PROHIBITED_CONTENT', 'IMAGE_PROHIBITED_CONTENT', 'BLOCKLIST', 'SPII', 'RECITATION', 'IMAGE_RECITATION']);

export const geminiImage: ImageTranslation = {
  abilities: GEMINI_IMAGE,
  method: 'generateContent',

  request(options: GoogleImageOptions): Record<string, unknown> {
    return {
      contents: [{ role: 'user', parts: [{ text: options.prompt }] }],
      generationConfig: { responseModalities: ['IMAGE'], imageConfig: { aspectRatio: options.aspectRatio } },
    };
  },

  answer(json: unknown, options: GoogleImageOptions): TranslatedAnswer {
    const response = isJsonObject(json) ? json : {};
    const usage = openAIUsage(response.usageMetadata);
    const blockReason = isJsonObject(response.promptFeedback) ? response.promptFeedback.blockReason : undefined;
    if (typeof blockReason === 'string') {
      return { kind: 'error', error: contentPolicy(`Google blocked the prompt (blockReason: ${blockReason}). Change the prompt; the same prompt will be blocked again.`, usage) };
    }
    const candidates = Array.isArray(response.candidates) ? response.candidates.filter(isJsonObject) : [];
    const data: Record<string, unknown>[] = [];
    let mimeType = 'image/png';
    for (const part of candidates.flatMap(partsOf)) {
      const inline = part.inlineData;
      // Thought images are drafts the model shows its work with, not answers.
      if (part.thought === true || !isJsonObject(inline) || typeof inline.data !== 'string' || inline.data === '') continue;
      if (typeof inline.mimeType === 'string') mimeType = inline.mimeType;
      data.push(imageEntry(inline.data, mimeType, options));
    }
    if (data.length === 0) {
      const finishReason = typeof candidates[0]?.finishReason === 'string' ? candidates[0].finishReason : 'none';
      if (WITHHELD.has(finishReason)) {
        return { kind: 'error', error: contentPolicy(`Google's safety filters withheld the image (finishReason: ${finishReason}).`, usage) };
      }
      const noImage = {
        status: 502,
        headers: {},
        body: { error: { message: `Google returned no image (finishReason: ${finishReason}).`, type: 'upstream_error', code: 'upstream_no_image', param: null }, ...(usage ? { usage } : {}) },
      };
      return { kind: 'error', error: noImage };
    }
    const body: Record<string, unknown> = { created: Math.floor(Date.now() / 1000), data, output_format: outputFormatOf(mimeType), size: options.size };
    if (usage) body.usage = usage;
    return { kind: 'images', body, filtered: Math.max(0, options.n - data.length) };
  },
};

function partsOf(candidate: JsonObject): JsonObject[] {
  const content = candidate.content;
  return isJsonObject(content) && Array.isArray(content.parts) ? content.parts.filter(isJsonObject) : [];
}

/**
 * usageMetadata as OpenAI's image usage: input = promptTokenCount (split by modality), output =
 * candidatesTokenCount plus any thoughtsTokenCount (Google bills thinking as output). Undefined when
 * Google reported no counts.
 */
export function openAIUsage(metadata: unknown): Record<string, unknown> | undefined {
  if (!isJsonObject(metadata)) return undefined;
  const count = (value: unknown) => (isNonNegativeInteger(value) ? value : 0);
  if (!isNonNegativeInteger(metadata.promptTokenCount) && !isNonNegativeInteger(metadata.candidatesTokenCount)) return undefined;
  const input = count(metadata.promptTokenCount) + count(metadata.toolUsePromptTokenCount);
  const output = count(metadata.candidatesTokenCount) + count(metadata.thoughtsTokenCount);
  const imageInput = Math.min(input, modalityCount(metadata.promptTokensDetails, 'IMAGE'));
  const imageOutput = Math.min(output, modalityCount(metadata.candidatesTokensDetails, 'IMAGE'));
  return {
    input_tokens: input,
    input_tokens_details: { text_tokens: input - imageInput, image_tokens: imageInput },
    output_tokens: output,
    output_tokens_details: { text_tokens: output - imageOutput, image_tokens: imageOutput },
    total_tokens: input + output,
  };
}

function modalityCount(details: unknown, modality: string): number {
  if (!Array.isArray(details)) return 0;
  return details.filter(isJsonObject).reduce((sum, detail) => sum + (detail.modality === modality && isNonNegativeInteger(detail.tokenCount) ? detail.tokenCount : 0), 0);
}
