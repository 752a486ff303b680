import type { ModelKind } from '../config/schema.js';
import type { BackendOptions, ModelBackend } from './backend.js';
import { LlamaCppBackend } from './llamacpp.js';
import { OllamaBackend } from './ollama.js';
import { OpenAiBackend } from './openai.js';

/** The backend for a configured model kind. */
export function createBackend(kind: ModelKind, opts: BackendOptions): ModelBackend {
  switch (kind) {
    case 'openai':
      return new OpenAiBackend(opts);
    case 'ollama':
      return new OllamaBackend(opts);
    case 'llamacpp':
      return new LlamaCppBackend(opts);
  }
}
