import type { CompletionConfig } from '../config/schema.js';
import { HttpError } from '../http/errors.js';
import type { ModelGroup, ModelRegistry } from '../models/index.js';

const isCompletionModel = (g: ModelGroup) => g.settings.roles.includes('completion');

/** The default completion model: configured, else the first model serving completion. */
export function defaultCompletionModel(
  models: ModelRegistry,
  config: CompletionConfig,
): ModelGroup | undefined {
  if (config.model) return models.get(config.model);
  for (const g of models.groups.values()) if (isCompletionModel(g)) return g;
  return undefined;
}

/**
 * The model a request is for. An unknown name falls back to the default unless `strict` (the
 * OpenAI API names models; the extension sends a placeholder), which makes it a 404.
 */
export function resolveCompletionModel(
  models: ModelRegistry,
  config: CompletionConfig,
  requested: string | undefined,
  strict: boolean,
): ModelGroup {
  if (requested) {
    const g = models.get(requested);
    if (g && isCompletionModel(g)) return g;
    if (strict) {
      const names = [...models.groups.values()].filter(isCompletionModel).map((m) => m.name);
      throw new HttpError(
        404,
        'not_found_error',
        `model "${requested}" is not a completion model here; available: ${names.join(', ') || 'none'}`,
        'model',
      );
    }
  }
  const g = defaultCompletionModel(models, config);
  if (!g) {
    throw new HttpError(
      503,
      'model_unavailable',
      'no completion model is configured (see models: in shenma.yaml)',
    );
  }
  return g;
}
