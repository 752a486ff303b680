import type { ServerResponse } from 'node:http';
import { createParser } from 'eventsource-parser';
import { type ProxyOptions, postUpstream } from './serve-child.js';

/**
 * The floor's own work for one extension request (bench/lib/floor-proxy.ts): put prefix and
 * suffix into a FIM prompt, send `{prompt, stream: true}` upstream, parse every event, and hand
 * the text to `answer` once the stream ends. Shared with the ladder's first rung
 * (bench/lib/ladder-proxy.ts), which runs the same work inside Fastify.
 */

export interface ExtensionBody {
  prompt_options?: { prefix?: string; suffix?: string };
  temperature?: number;
}

/** The rungs of `bench:completion --ladder`, in order, each adding one of Shenma's layers. */
export const LADDER_RUNGS = ['fastify', 'client', 'engine'] as const;
export type LadderRung = (typeof LADDER_RUNGS)[number];

export function floorCompletion(
  opts: ProxyOptions,
  body: ExtensionBody,
  res: ServerResponse,
  answer: (text: string) => void,
): void {
  const options = body.prompt_options ?? {};
  const prompt = `<|fim_prefix|>${options.prefix ?? ''}<|fim_suffix|>${options.suffix ?? ''}<|fim_middle|>`;
  const payload = JSON.stringify({
    model: 'coder',
    prompt,
    max_tokens: 256,
    temperature: body.temperature ?? 0.1,
    stop: ['\n', '<|endoftext|>'],
    stream: true,
  });
  let text = '';
  const parser = createParser({
    onEvent(event) {
      if (event.data === '[DONE]') return;
      const parsed = JSON.parse(event.data) as { choices?: { text?: string }[] };
      text += parsed.choices?.[0]?.text ?? '';
    },
  });
  postUpstream(opts, '/v1/completions', payload, res, (ur) => {
    ur.setEncoding('utf8');
    ur.on('data', (chunk: string) => parser.feed(chunk));
    ur.on('end', () => answer(text));
  });
}
