// What a Responses API answer generated, as text for tiktoken when the provider reported no usage, and
// its output items (for the built-in tool calls it billed).
import { GeneratedAccumulator, type GeneratedOutput } from './generated.js';
import { arrayOrEmpty, isJsonObject, stringOrEmpty, type JsonObject } from './guards.js';

/** The `output` items of a Response object (the body of a non-stream answer, or a terminal event's `response`). */
export function outputItemsOf(response: unknown): readonly unknown[] {
  return isJsonObject(response) ? arrayOrEmpty(response.output) : [];
}

/** Everything the model wrote in a Response's output items: text, refusals, summaries, tool call arguments, code. */
export function generatedFromResponse(response: unknown): GeneratedOutput {
  const generated = new GeneratedAccumulator();
  outputItemsOf(response).forEach((item, index) => {
    if (isJsonObject(item)) addItem(generated, item, index);
  });
  return generated.snapshot();
}

function addItem(generated: GeneratedAccumulator, item: JsonObject, index: number): void {
  switch (item.type) {
    case 'message':
      for (const part of arrayOrEmpty(item.content)) {
        if (!isJsonObject(part)) continue;
        generated.addContent(0, stringOrEmpty(part.text));
        generated.addContent(0, stringOrEmpty(part.refusal));
      }
      return;
    case 'reasoning':
      for (const part of [...arrayOrEmpty(item.summary), ...arrayOrEmpty(item.content)]) {
        if (isJsonObject(part)) generated.addContent(0, stringOrEmpty(part.text));
      }
      return;
    case 'code_interpreter_call':
      generated.addContent(0, stringOrEmpty(item.code));
      return;
  }
  // Calls the model wrote: function and custom tools, MCP calls, shell commands and the like.
  const args = stringOrEmpty(item.arguments) || stringOrEmpty(item.input);
  if (args !== '' || typeof item.name === 'string') generated.addToolCallFragment(String(index), { name: stringOrEmpty(item.name), arguments: args });
}
