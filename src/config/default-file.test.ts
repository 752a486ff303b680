import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { defaultConfigText } from './default-file.js';
import { configLeaves, envNameFor } from './introspect.js';
import { parseConfig } from './load.js';
import { configSchema, modelSchema } from './schema.js';

const text = defaultConfigText(9080);

function parsed() {
  const doc = parseDocument(text);
  expect(doc.errors.map((e) => e.message)).toEqual([]);
  return doc.toJS();
}

describe('defaultConfigText', () => {
  it('is valid YAML', () => {
    parsed();
  });

  it('validates as a config', () => {
    expect(() => parseConfig(parsed(), 'shenma.yaml')).not.toThrow();
  });

  it('has a live Ollama base model for completion and an instruct model for chat, both the defaults', () => {
    const cfg = parseConfig(parsed(), 'shenma.yaml');
    expect(cfg.models).toHaveLength(2);
    expect(cfg.models[0]).toMatchObject({
      name: 'coder',
      kind: 'ollama',
      url: 'http://127.0.0.1:11434',
      model: 'qwen2.5-coder:1.5b-base',
      family: 'qwen2.5-coder',
      fim: 'template',
      roles: ['completion'],
    });
    expect(cfg.models[1]).toMatchObject({
      name: 'chat',
      kind: 'ollama',
      url: 'http://127.0.0.1:11434',
      model: 'qwen2.5-coder:1.5b-instruct',
      roles: ['chat'],
    });
    expect(cfg.completion.model).toBe('coder');
    expect(cfg.chat.model).toBe('chat');
  });

  it('leaves every other key at its default (everything else is commented out)', () => {
    const cfg = parseConfig(parsed(), 'shenma.yaml');
    const defaults = parseConfig({
      models: cfg.models,
      completion: { model: 'coder' },
      chat: { model: 'chat' },
    });
    expect(cfg).toEqual(defaults);
  });

  it('mentions every leaf key of the config schema', () => {
    const missing = configLeaves(configSchema)
      .map((l) => l.path[l.path.length - 1]!)
      .filter((key) => !new RegExp(`\\b${key}:`).test(text));
    expect(missing).toEqual([]);
  });

  it('mentions every per-model key', () => {
    const missing = configLeaves(modelSchema)
      .map((l) => l.path[0]!)
      .filter((key) => !new RegExp(`\\b${key}:`).test(text));
    expect(missing).toEqual([]);
  });

  it('shows defaults of commented keys', () => {
    const lines = text.split('\n');
    expect(lines).toContain('  # port: 9080');
    expect(lines).toContain(
      '    # firstTokenMs: 2000   # Longest wait for the first token before 504 (or fallback)',
    );
    expect(lines).toContain('    # maxEntries: 5000   # 0 turns the cache off');
    expect(lines).toContain(
      '  #   maxConcurrency:   # Most requests in flight to this replica; default by kind: openai 256, ollama 4, llamacpp 4',
    );
    expect(lines).toContain('  #   minConcurrency: 1   # Lowest the adaptive limit goes');
  });

  it('uses the given port for publicUrl and names the env override scheme', () => {
    expect(defaultConfigText(9123)).toContain('# publicUrl: http://127.0.0.1:9123');
    expect(text).toContain(envNameFor(['completion', 'timeouts', 'firstTokenMs']));
  });
});
