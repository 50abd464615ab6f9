// The one chat request every bench script sends, so their numbers describe the same work.
export function chatBody(stream = false): string {
  return JSON.stringify({
    model: 'gpt-4o-mini',
    messages: [
      { role: 'system', content: 'You are a terse assistant.' },
      { role: 'user', content: 'Say hello in ten words or fewer.' },
    ],
    max_tokens: 64,
    ...(stream ? { stream: true } : {}),
  });
}
