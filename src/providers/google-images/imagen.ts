// Imagen through the Gemini API's `models/{model}:predict` (pure translation both ways). Request:
// `{instances: [{prompt}], parameters: {sampleCount, aspectRatio, includeRaiReason, outputOptions}}`.
// Answer: `predictions[]`, each an image (`bytesBase64Encoded`, `mimeType`) or, for an image Google's
// filters withheld, `raiFilteredReason` and no bytes. Google bills the images it returns.
import { isJsonObject } from '../../metering/guards.js';
import { contentPolicy } from './errors.js';
import { imageEntry, outputFormatOf, type GoogleImageOptions, type ModelAbilities } from './options.js';
import type { ImageTranslation } from './translation.js';

/** Imagen 4's 1K sizes by aspect ratio (the Gemini API offers these five ratios). */
export const IMAGEN: ModelAbilities = {
  label: 'Imagen',
  sizes: { '1024x1024': '1:1', '896x1280': '3:4', '1280x896': '4:3', '768x1408': '9:16', '1408x768': '16:9' },
  formats: ['png', 'jpeg'],
  maxImages: 4,
};

export const imagen: ImageTranslation = {
  abilities: IMAGEN,
  method: 'predict',

  request(options: GoogleImageOptions): Record<string, unknown> {
    const parameters: Record<string, unknown> = {
      // Imagen's default is 4: always say how many.
      sampleCount: options.n,
      aspectRatio: options.aspectRatio,
      // Without it a filtered image is silently missing; with it, it is a prediction saying why.
      includeRaiReason: true,
    };
    if (options.mimeType) {
      parameters.outputOptions = { mimeType: options.mimeType, ...(options.compression === null ? {} : { compressionQuality: options.compression }) };
    }
    return { instances: [{ prompt: options.prompt }], parameters };
  },

  answer(json: unknown, options: GoogleImageOptions) {
    const predictions = isJsonObject(json) && Array.isArray(json.predictions) ? json.predictions.filter(isJsonObject) : [];
    const data: Record<string, unknown>[] = [];
    const filtered: string[] = [];
    let mimeType = options.mimeType ?? 'image/png';
    for (const prediction of predictions) {
      const bytes = prediction.bytesBase64Encoded;
      if (typeof bytes === 'string' && bytes !== '') {
        if (typeof prediction.mimeType === 'string') mimeType = prediction.mimeType;
        data.push(imageEntry(bytes, mimeType, options, prediction.prompt));
      } else if (typeof prediction.raiFilteredReason === 'string') {
        filtered.push(prediction.raiFilteredReason);
      }
      // Anything else (the prompt's own safety attributes) is not an image.
    }
    if (data.length === 0) {
      const why = filtered.length > 0 ? `: ${filtered.join(' | ').slice(0, 1000)}` : ' (Google gave no reason; its safety filters omit what they withhold)';
      return { kind: 'error', error: contentPolicy(`Google's safety filters withheld every image${why}`) };
    }
    return {
      kind: 'images',
      body: { created: Math.floor(Date.now() / 1000), data, output_format: outputFormatOf(mimeType), size: options.size },
      // Without a reason per image, a shortfall is still a withheld image.
      filtered: Math.max(filtered.length, options.n - data.length),
    };
  },
};
