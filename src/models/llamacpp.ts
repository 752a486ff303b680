import type { BackendOptions, FimRequest } from './backend.js';
import { FimPieces } from './fim-stream.js';
import { type Parsed, sseDecoder } from './http.js';
import { fimBody, fimEvent, fimSecrets, HttpBackend, textField } from './http-backend.js';

/**
 * llama.cpp's server. With a suffix it uses /infill (the server applies the model's FIM tokens);
 * a templated prompt goes to /completion. The base URL is the server root, e.g. http://127.0.0.1:8080.
 */
export class LlamaCppBackend extends HttpBackend {
  constructor(opts: BackendOptions) {
    // Chat is served by the OpenAI-compatible API under /v1, next to the native one.
    super(opts, { chat: '/v1/chat/completions', probe: '/health' });
  }

  streamFim(req: FimRequest, signal: AbortSignal): AsyncIterable<string> {
    const sampling = {
      model: req.model,
      n_predict: req.maxTokens,
      temperature: req.temperature,
      stop: req.stop,
      stream: true,
      // Consecutive completions share most of their prompt; reusing the KV cache is the big win.
      cache_prompt: true,
    };
    const secrets = fimSecrets(req);
    const call =
      req.suffix === undefined
        ? { path: '/completion', body: fimBody(req, sampling), secrets }
        : {
            path: '/infill',
            body: { input_prefix: req.prompt, input_suffix: req.suffix, ...sampling },
            secrets,
          };
    const open = () => this.client.open('POST', call, signal);
    return new FimPieces(open, signal, sseDecoder(), (payload) => parseEvent(payload, secrets));
  }
}

function parseEvent(payload: string, secrets: readonly string[]): Parsed {
  const { content, stop } = fimEvent(payload, 'completion event', secrets);
  return { text: textField(content, 'an event whose content'), done: stop === true };
}
