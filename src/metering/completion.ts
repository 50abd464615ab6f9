// Generated text of a non-stream chat completion, for estimating output when the provider gave no usage.
import { GeneratedAccumulator, type GeneratedOutput } from './generated.js';
import { arrayOrEmpty, isJsonObject, stringOrEmpty, type JsonObject } from './guards.js';

/**
 * Accepts the parsed response body as `unknown` because it comes from the provider: anything that
 * does not look like a ChatCompletion contributes nothing rather than throwing.
 */
export function generatedFromCompletion(json: unknown): GeneratedOutput {
  const generated = new GeneratedAccumulator();
  if (!isJsonObject(json)) return generated.snapshot();
  arrayOrEmpty(json.choices).forEach((choice, position) => {
    if (!isJsonObject(choice) || !isJsonObject(choice.message)) return;
    const choiceIndex = typeof choice.index === 'number' ? choice.index : position;
    collectMessage(choiceIndex, choice.message, generated);
  });
  return generated.snapshot();
}

function collectMessage(choiceIndex: number, message: JsonObject, generated: GeneratedAccumulator): void {
  generated.addContent(choiceIndex, stringOrEmpty(message.content));
  generated.addContent(choiceIndex, stringOrEmpty(message.refusal));
  arrayOrEmpty(message.tool_calls).forEach((call, callIndex) => {
    if (!isJsonObject(call)) return;
    // Custom tools carry free-form `input` instead of JSON `arguments`; both are generated text.
    if (isJsonObject(call.function)) addCall(generated, `${choiceIndex}:${callIndex}`, call.function, 'arguments');
    else if (isJsonObject(call.custom)) addCall(generated, `${choiceIndex}:${callIndex}`, call.custom, 'input');
  });
  if (isJsonObject(message.function_call)) {
    addCall(generated, `${choiceIndex}:function_call`, message.function_call, 'arguments');
  }
}

function addCall(generated: GeneratedAccumulator, key: string, call: JsonObject, argumentsField: string): void {
  generated.addToolCallFragment(key, { name: stringOrEmpty(call.name), arguments: stringOrEmpty(call[argumentsField]) });
}
