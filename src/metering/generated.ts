// What a model generated, reduced to the text that tiktoken needs when the provider reports no usage.

export type GeneratedToolCall = { name: string; arguments: string };

export type GeneratedOutput = { content: string; toolCalls: GeneratedToolCall[] };

/**
 * Collects generated text piece by piece. Text is kept per choice (n > 1) so choices are not
 * interleaved mid-word; tool call fragments are keyed by the caller (choice and tool call index)
 * and concatenated in arrival order.
 */
export class GeneratedAccumulator {
  private readonly contentByChoice = new Map<number, string[]>();
  private readonly toolCalls = new Map<string, GeneratedToolCall>();

  addContent(choiceIndex: number, text: string): void {
    if (text === '') return;
    const parts = this.contentByChoice.get(choiceIndex) ?? [];
    parts.push(text);
    this.contentByChoice.set(choiceIndex, parts);
  }

  addToolCallFragment(key: string, fragment: GeneratedToolCall): void {
    const call = this.toolCalls.get(key) ?? { name: '', arguments: '' };
    call.name += fragment.name;
    call.arguments += fragment.arguments;
    this.toolCalls.set(key, call);
  }

  isEmpty(): boolean {
    return this.contentByChoice.size === 0 && this.toolCalls.size === 0;
  }

  snapshot(): GeneratedOutput {
    return {
      content: [...this.contentByChoice.values()].map((parts) => parts.join('')).join('\n'),
      toolCalls: [...this.toolCalls.values()].map((call) => ({ ...call })),
    };
  }
}
