import { stringify } from 'yaml';
import type { z } from 'zod';
import { objectShape, unwrap } from './introspect.js';
import { configSchema, FIM_FAMILIES, MODEL_KINDS } from './schema.js';

/**
 * The commented shenma.yaml that `shenma start` writes when there is none. Only `models`,
 * `completion.model` and `chat.model` are live; every other key is generated from the schema, commented out,
 * showing its default and description, so the file cannot drift from what the code accepts.
 */

function scalar(value: unknown): string {
  return stringify(value, { flow: true }).trim();
}

function commentedSection(schema: z.ZodType, indent: string, skip: Set<string>): string[] {
  const shape = objectShape(schema);
  if (!shape) return [];
  const lines: string[] = [];
  for (const [key, child] of Object.entries(shape)) {
    if (skip.has(key)) continue;
    const { description, defaultValue } = unwrap(child);
    if (objectShape(child)) {
      if (description) lines.push(`${indent}# ${description}`);
      lines.push(`${indent}# ${key}:`);
      lines.push(...commentedSection(child, `${indent}  `, new Set()));
      continue;
    }
    const shown = defaultValue === undefined ? '' : ` ${scalar(defaultValue)}`;
    const note = description ? `   # ${description}` : '';
    lines.push(`${indent}# ${key}:${shown}${note}`);
  }
  return lines;
}

export function defaultConfigText(port: number): string {
  const shape = objectShape(configSchema)!;
  const completion = shape.completion!;
  const chat = shape.chat!;
  return [
    '# Shenma configuration, written by `shenma start` because no config file was found.',
    '# Keys that are commented out show their defaults. Any scalar key can also be set from the',
    '# environment: completion.timeouts.firstTokenMs is SHENMA_COMPLETION_TIMEOUTS_FIRST_TOKEN_MS.',
    '# Keep secrets out of this file: write apiKey: ${MY_KEY} and set MY_KEY in the environment.',
    '',
    `# publicUrl: http://127.0.0.1:${port}   # what browsers and IDEs use`,
    '',
    ...commentedSection(configSchema, '', new Set(['publicUrl', 'models', 'completion', 'chat'])),
    '',
    '# The models Shenma talks to. Entries that share a name are replicas of one model and are',
    '# balanced by least load. This default expects Ollama on this machine; pull the models with',
    '#   ollama pull qwen2.5-coder:1.5b-base && ollama pull qwen2.5-coder:1.5b-instruct',
    '# or replace the entries with your own servers (see the commented examples below).',
    '# Completion needs a base model (fill-in-the-middle); chat needs an instruct model.',
    'models:',
    '  - name: coder',
    '    kind: ollama',
    '    url: http://127.0.0.1:11434',
    '    model: qwen2.5-coder:1.5b-base',
    '    family: qwen2.5-coder   # FIM prompt format; never guessed from the name',
    '    fim: template           # template: Shenma builds the FIM prompt | suffix: the server does',
    '    roles: [completion]',
    '',
    '  - name: chat',
    '    kind: ollama',
    '    url: http://127.0.0.1:11434',
    '    model: qwen2.5-coder:1.5b-instruct',
    '    roles: [chat]',
    '',
    '  # vLLM, TGI, llama.cpp server or any OpenAI-compatible /v1/completions:',
    '  # - name: coder',
    '  #   kind: openai',
    '  #   url: http://127.0.0.1:8000/v1',
    '  #   apiKey: ${CODER_API_KEY}',
    '  #   model: deepseek-ai/deepseek-coder-6.7b-base',
    '  #   family: deepseek-coder',
    '  #   fim: template',
    '  #   roles: [completion]',
    '  #   maxConcurrency: 256   # the default for kind openai (vLLM schedules 256 at once)',
    '  #   contextWindow: 8192',
    '  #',
    `  # kind: ${MODEL_KINDS.join(' | ')}`,
    `  # family: ${FIM_FAMILIES.join(' | ')}`,
    '  # or template: "<PRE> {prefix} <SUF>{suffix} <MID>" for any other FIM format',
    '  # Per-model keys and their defaults:',
    ...commentedSection(
      configSchema.shape.models.unwrap().element,
      '  ',
      new Set(['name', 'kind', 'url']),
    ).map((l) => l.replace(/^ {2}# /, '  #   ')),
    '',
    'completion:',
    '  model: coder   # default completion model',
    ...commentedSection(completion, '  ', new Set(['model'])),
    '',
    'chat:',
    '  model: chat   # default chat model',
    ...commentedSection(chat, '  ', new Set(['model'])),
    '',
  ].join('\n');
}
