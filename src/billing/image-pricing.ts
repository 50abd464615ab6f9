// Pure integer pricing of image generation (SPEC 1): a price per image by size and quality, or the
// tokens a provider reports at the model's token rates. No I/O; one ceil per request.
import { AUTO, type ImageModel, type ImageTokenRates } from './price-table.js';

/** A request's size and quality, defaults applied; either may be "auto" where the model allows it. */
export interface ImageChoice {
  size: string;
  quality: string;
}

export type ImageChoiceResult = { ok: true; choice: ImageChoice } | { ok: false; param: 'size' | 'quality'; message: string };

/** Token counts a provider reported for one image request. */
export interface ImageTokens {
  textInputTokens: number;
  imageInputTokens: number;
  outputTokens: number;
}

const PER = 1_000_000n;

/** The size and quality asked for, checked against what the model prices (an unknown one is refused before any hold). */
export function chooseImageOptions(model: ImageModel, size: string | null | undefined, quality: string | null | undefined): ImageChoiceResult {
  const choice = { size: size ?? model.defaultSize, quality: quality ?? model.defaultQuality };
  const sizes = Object.keys(model.imagePrices);
  if (!(model.auto && choice.size === AUTO) && !sizes.includes(choice.size)) {
    return { ok: false, param: 'size', message: `The size '${choice.size}' is not available for '${model.id}'; choose one of ${listed(sizes, model.auto)}.` };
  }
  const qualities = qualitiesOf(model, choice.size);
  if (!(model.auto && choice.quality === AUTO) && !qualities.includes(choice.quality)) {
    const where = choice.size === AUTO ? '' : ` at ${choice.size}`;
    return { ok: false, param: 'quality', message: `The quality '${choice.quality}' is not available for '${model.id}'${where}; choose one of ${listed(qualities, model.auto)}.` };
  }
  return { ok: true, choice };
}

/** The price of one image of an exact size and quality, or null when the model does not price it. */
export function imagePrice(model: ImageModel, size: string, quality: string): number | null {
  return model.imagePrices[size]?.[quality] ?? null;
}

/** The dearest one image of this choice may cost: "auto" spans every priced value. */
export function worstImagePrice(model: ImageModel, choice: ImageChoice): number {
  const sizes = choice.size === AUTO ? Object.keys(model.imagePrices) : [choice.size];
  let worst = 0;
  for (const size of sizes) {
    const byQuality = model.imagePrices[size] ?? {};
    for (const [quality, price] of Object.entries(byQuality)) {
      if (choice.quality === AUTO || choice.quality === quality) worst = Math.max(worst, price);
    }
  }
  return worst;
}

/** What `images` images at `perImage` each cost. */
export function perImageCharge(images: number, perImage: number): number {
  return Number(BigInt(images) * BigInt(perImage));
}

/** ceil((text*textInput + image*imageInput + output*output) / 1e6), in bigint so nothing overflows. */
export function imageTokenCharge(tokens: ImageTokens, rates: ImageTokenRates): number {
  const micro =
    BigInt(tokens.textInputTokens) * BigInt(rates.textInput) +
    BigInt(tokens.imageInputTokens) * BigInt(rates.imageInput) +
    BigInt(tokens.outputTokens) * BigInt(rates.output);
  return Number((micro + PER - 1n) / PER);
}

/**
 * The hold for `n` images: every image at the dearest price the choice allows, plus, for a model billed
 * from tokens, its prompt's text at the text input rate (the provider bills that once per request).
 */
export function imageHoldTokens(model: ImageModel, choice: ImageChoice, n: number, promptTokens: number): number {
  const images = perImageCharge(n, worstImagePrice(model, choice));
  if (!model.tokenRates) return images;
  return images + imageTokenCharge({ textInputTokens: promptTokens, imageInputTokens: 0, outputTokens: 0 }, model.tokenRates);
}

function qualitiesOf(model: ImageModel, size: string): string[] {
  const maps = size === AUTO ? Object.values(model.imagePrices) : [model.imagePrices[size] ?? {}];
  return [...new Set(maps.flatMap((byQuality) => Object.keys(byQuality)))];
}

function listed(values: string[], auto: boolean): string {
  return [...values, ...(auto ? [AUTO] : [])].join(', ');
}
