// The shape each Google image API's translation has (Imagen's predict, Gemini's generateContent).
import type { ImageErrorAnswer } from './errors.js';
import type { GoogleImageOptions, ModelAbilities } from './options.js';

/** A Google answer as OpenAI's `ImagesResponse`, or as an error for the client. */
export type TranslatedAnswer =
  | { kind: 'images'; body: Record<string, unknown>; /** images Google's filters withheld */ filtered: number }
  | { kind: 'error'; error: ImageErrorAnswer };

export interface ImageTranslation {
  abilities: ModelAbilities;
  /** The method after `models/{model}:` in the URL. */
  method: 'predict' | 'generateContent';
  request(options: GoogleImageOptions): Record<string, unknown>;
  answer(json: unknown, options: GoogleImageOptions): TranslatedAnswer;
}
