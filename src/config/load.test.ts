import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configLeaves, envNameFor } from './introspect.js';
import { ConfigError, loadConfigFile, parseConfig } from './load.js';
import { configSchema, FILTER_NAMES, REJECT_RULES } from './schema.js';

const coder = { name: 'coder', url: 'http://127.0.0.1:8000/v1', family: 'deepseek-coder' };

/** Runs `fn`, expecting a ConfigError, and returns its message. */
function configErrorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError, but nothing was thrown');
}

const dir = mkdtempSync(join(tmpdir(), 'shenma-config-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writeConfig(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

describe('${VAR} references', () => {
  it('replaces ${VAR} anywhere inside a string with the variable', () => {
    const cfg = parseConfig(
      { models: [{ ...coder, url: 'http://${HOST}:8000/v1', apiKey: '${KEY}' }] },
      'test',
      { HOST: 'gpu1.local', KEY: 'sk-123' },
    );
    expect(cfg.models[0]!.url).toBe('http://gpu1.local:8000/v1');
    expect(cfg.models[0]!.apiKey).toBe('sk-123');
  });

  it('uses the ${VAR:-default} fallback when the variable is unset or empty, and the variable otherwise', () => {
    const raw = { server: { host: '${BIND:-0.0.0.0}' } };
    expect(parseConfig(raw, 'test', {}).server.host).toBe('0.0.0.0');
    expect(parseConfig(raw, 'test', { BIND: '' }).server.host).toBe('0.0.0.0');
    expect(parseConfig(raw, 'test', { BIND: '10.0.0.5' }).server.host).toBe('10.0.0.5');
  });

  it('accepts an empty fallback', () => {
    const cfg = parseConfig({ models: [{ ...coder, apiKey: '${KEY:-}' }] }, 'test', {});
    expect(cfg.models[0]!.apiKey).toBe('');
  });

  it('refuses a missing variable, naming the key path, the variable and the source', () => {
    const message = configErrorOf(() =>
      parseConfig({ models: [{ ...coder, apiKey: '${CODER_API_KEY}' }] }, 'shenma.yaml', {}),
    );
    expect(message).toContain('shenma.yaml');
    expect(message).toContain('models.0.apiKey: environment variable CODER_API_KEY is not set');
  });

  it('treats a variable set to the empty string as missing when there is no fallback', () => {
    const message = configErrorOf(() =>
      parseConfig({ database: { url: '${DATABASE_URL}' } }, 'test', { DATABASE_URL: '' }),
    );
    expect(message).toContain('database.url: environment variable DATABASE_URL is empty');
  });

  it('reads a whole-value reference as a number or boolean where the key takes one', () => {
    const raw = { server: { port: '${PORT:-9090}' }, log: { logCode: '${LOG_CODE:-false}' } };
    expect(parseConfig(raw, 'test', {}).server.port).toBe(9090);
    const set = parseConfig(raw, 'test', { PORT: '19281', LOG_CODE: 'true' });
    expect(set.server.port).toBe(19281);
    expect(set.log.logCode).toBe(true);
    // A string key keeps the text, digits or not; a number key refuses what is not one.
    expect(
      parseConfig({ models: [{ ...coder, apiKey: '${KEY}' }] }, 'test', { KEY: '12345' }).models[0]!.apiKey,
    ).toBe('12345');
    expect(configErrorOf(() => parseConfig(raw, 'test', { PORT: 'eighty' }))).toContain('server.port');
  });

  it('takes a SHENMA_* variable the file references as the file’s own, not an unknown key', () => {
    const raw = { database: { url: 'postgresql://shenma:${SHENMA_DB_PASSWORD}@postgres:5432/shenma' } };
    const cfg = parseConfig(raw, 'test', { SHENMA_DB_PASSWORD: 'generated-secret' });
    expect(cfg.database.url).toContain('generated-secret');
    expect(parseConfig({}, 'test', { SHENMA_OIDC_SIGNING_KEYS: 'e30=' }).server.port).toBe(9080);
    expect(configErrorOf(() => parseConfig({}, 'test', { SHENMA_DB_PASSWORD: 'x' }))).toContain(
      'SHENMA_DB_PASSWORD (environment variable): names no configuration key',
    );
  });

  it('reads ${VAR} from a YAML file with the given environment', () => {
    const file = writeConfig(
      'env-ref.yaml',
      [
        'models:',
        '  - name: coder',
        '    url: ${CODER_URL}',
        '    family: deepseek-coder',
        'completion:',
        '  model: coder',
      ].join('\n'),
    );
    const cfg = loadConfigFile(file, { CODER_URL: 'http://10.1.1.1:8000/v1' });
    expect(cfg.models[0]!.url).toBe('http://10.1.1.1:8000/v1');
    expect(cfg.completion.model).toBe('coder');
  });
});

describe('SHENMA_* environment overrides', () => {
  it('names variables after the key path', () => {
    expect(envNameFor(['completion', 'timeouts', 'firstTokenMs'])).toBe(
      'SHENMA_COMPLETION_TIMEOUTS_FIRST_TOKEN_MS',
    );
    expect(envNameFor(['log', 'logCode'])).toBe('SHENMA_LOG_LOG_CODE');
    expect(envNameFor(['server', 'port'])).toBe('SHENMA_SERVER_PORT');
  });

  it('overrides a nested number, as a number, even when the file sets it', () => {
    const cfg = parseConfig({ completion: { timeouts: { firstTokenMs: 3000 } } }, 'test', {
      SHENMA_COMPLETION_TIMEOUTS_FIRST_TOKEN_MS: '750',
    });
    expect(cfg.completion.timeouts.firstTokenMs).toBe(750);
    // siblings keep their defaults
    expect(cfg.completion.timeouts.queueMs).toBe(500);
    expect(cfg.completion.timeouts.totalMs).toBe(5000);
  });

  it('overrides booleans and strings', () => {
    const cfg = parseConfig({}, 'test', {
      SHENMA_LOG_LOG_CODE: 'true',
      SHENMA_COMPLETION_RULES_INSIDE_WORD: 'false',
      SHENMA_SERVER_HOST: '0.0.0.0',
      SHENMA_SERVER_PORT: '8080',
      SHENMA_LOG_LEVEL: 'debug',
    });
    expect(cfg.log.logCode).toBe(true);
    expect(cfg.log.level).toBe('debug');
    expect(cfg.server).toEqual({ host: '0.0.0.0', port: 8080, drainMs: 10_000 });
    expect(cfg.completion.rules).toEqual({ afterStatementEnd: true, insideWord: false, emptyDocument: true });
  });

  it('refuses a non-numeric value for a number key, naming the key path', () => {
    const message = configErrorOf(() => parseConfig({}, 'test', { SHENMA_SERVER_PORT: 'eighty' }));
    expect(message).toMatch(/server\.port\): /);
  });

  it('refuses a boolean key set to something other than true/false', () => {
    const message = configErrorOf(() => parseConfig({}, 'test', { SHENMA_LOG_LOG_CODE: 'yes' }));
    expect(message).toMatch(/log\.logCode\): /);
  });

  it('reads an array key as JSON and refuses anything else', () => {
    const cfg = parseConfig({}, 'test', {
      SHENMA_COMPLETION_LANGUAGE_MAP: '[{"language":"zig","file_extensions":[".zig"]}]',
    });
    expect(cfg.completion.languageMap).toEqual([{ language: 'zig', file_extensions: ['.zig'] }]);
    const message = configErrorOf(() => parseConfig({}, 'test', { SHENMA_COMPLETION_LANGUAGE_MAP: 'zig' }));
    expect(message).toBe(
      'invalid configuration from environment variables:\n' +
        '  SHENMA_COMPLETION_LANGUAGE_MAP (environment variable, completion.languageMap): expected a JSON array',
    );
  });

  it('ignores variables without the SHENMA_ prefix and the CLI and test suite variables', () => {
    const env = {
      PORT: '1',
      SHENMA_DATA_DIR: '/tmp/x',
      SHENMA_CLUSTERS_DIR: '/tmp/c',
      SHENMA_CONFIG: 'a.yaml',
      SHENMA_TEST_LOG: 'info',
    };
    expect(parseConfig({}, 'test', env).server.port).toBe(9080);
  });

  it('blames a bad value on the variable, not on the file', () => {
    const message = configErrorOf(() => parseConfig({}, 'shenma.yaml', { SHENMA_SERVER_PORT: 'eighty' }));
    expect(message).toMatch(/^invalid configuration from environment variables:/);
    expect(message).not.toContain('shenma.yaml');
    expect(message).toContain('SHENMA_SERVER_PORT (environment variable, server.port): ');
  });
});

describe('unknown keys', () => {
  it('names a mistyped top-level section, its path and the nearest known key', () => {
    const message = configErrorOf(() => parseConfig({ complection: { maxTokens: 10 } }, 'shenma.yaml'));
    expect(message).toBe(
      'invalid configuration in shenma.yaml:\n  complection: unknown key "complection"; did you mean `completion`?',
    );
  });

  it('names a mistyped key inside a model entry with its index', () => {
    const message = configErrorOf(() =>
      parseConfig({ models: [coder, { ...coder, maxConcurency: 4 }] }, 'shenma.yaml'),
    );
    expect(message).toContain(
      'models.1.maxConcurency: unknown key "maxConcurency"; did you mean `maxConcurrency`?',
    );
  });

  it('finds unknown keys at any depth, in maps and lists too', () => {
    const message = configErrorOf(() =>
      parseConfig({
        completion: {
          timeouts: { firstTokenMS: 100 },
          languageMap: [{ language: 'zig', file_extensions: [], extra: 1 }],
        },
        quotas: { users: { alice: { requestsPerDya: 3 } } },
      }),
    );
    expect(message).toContain(
      'completion.timeouts.firstTokenMS: unknown key "firstTokenMS"; did you mean `firstTokenMs`?',
    );
    expect(message).toContain('completion.languageMap.0.extra: unknown key "extra"');
    expect(message).toContain(
      'quotas.users.alice.requestsPerDya: unknown key "requestsPerDya"; did you mean `requestsPerDay`?',
    );
  });

  it('suggests nothing when no known key is near', () => {
    const message = configErrorOf(() => parseConfig({ server: { zzzzzzzzzz: 1 } }));
    expect(message).toContain('server.zzzzzzzzzz: unknown key "zzzzzzzzzz"');
    expect(message).not.toContain('did you mean');
  });

  it('refuses a SHENMA_* variable that names no key, saying it came from the environment', () => {
    const message = configErrorOf(() =>
      parseConfig({}, 'shenma.yaml', { SHENMA_COMPLETION_MAXTOKENS: '10', SHENMA_NOT_A_KEY: '1' }),
    );
    expect(message).toMatch(/^invalid configuration from environment variables:/);
    expect(message).toContain(
      'SHENMA_COMPLETION_MAXTOKENS (environment variable): names no configuration key; did you mean SHENMA_COMPLETION_MAX_TOKENS?',
    );
    expect(message).toContain('SHENMA_NOT_A_KEY (environment variable): names no configuration key');
  });
});

describe('all problems at once', () => {
  it('reports file and environment problems together, one per line', () => {
    const message = configErrorOf(() =>
      parseConfig(
        {
          server: { port: 70000 },
          models: [{ ...coder, apiKey: '${CODER_API_KEY}', url: 'nope' }],
          completion: { fallbackModel: 'small' },
          chat: { modle: 'x' },
        },
        'shenma.yaml',
        { SHENMA_LOG_LEVEL: 'loud' },
      ),
    );
    const lines = message.split('\n');
    expect(lines[0]).toBe('invalid configuration in shenma.yaml and environment variables:');
    expect(lines.slice(1)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^ {2}server\.port: /),
        '  models.0.apiKey: environment variable CODER_API_KEY is not set (write ${CODER_API_KEY:-} to make it optional)',
        '  models.0.url: must be an http(s) URL',
        '  completion.fallbackModel: no model named "small" in models',
        '  chat.modle: unknown key "modle"; did you mean `model`?',
        expect.stringMatching(/^ {2}SHENMA_LOG_LEVEL \(environment variable, log\.level\): /),
      ]),
    );
    expect(lines).toHaveLength(7);
  });
});

describe('validation errors name the key path', () => {
  it('a model url that is not a URL', () => {
    const message = configErrorOf(() =>
      parseConfig({ models: [{ ...coder, url: '127.0.0.1:8000' }] }, 'shenma.yaml'),
    );
    expect(message).toContain('invalid configuration in shenma.yaml');
    expect(message).toContain('models.0.url: must be an http(s) URL');
  });

  it.each(['localhost:8000', 'ftp://127.0.0.1/v1'])(
    'a model url %j that parses as a URL but is not http(s)',
    (url) => {
      const message = configErrorOf(() => parseConfig({ models: [{ ...coder, url }] }, 'shenma.yaml'));
      expect(message).toContain('models.0.url: must be an http(s) URL');
    },
  );

  it('completion.model and completion.fallbackModel naming no configured model', () => {
    expect(configErrorOf(() => parseConfig({ models: [coder], completion: { model: 'nope' } }))).toContain(
      'completion.model: no model named "nope" in models',
    );
    expect(
      configErrorOf(() => parseConfig({ models: [coder], completion: { fallbackModel: 'other' } })),
    ).toContain('completion.fallbackModel: no model named "other" in models');
  });

  it('chat.model and chat.fallbackModel naming no configured model', () => {
    const chatModel = { name: 'chat', url: 'http://127.0.0.1:8001/v1', roles: ['chat'] };
    expect(configErrorOf(() => parseConfig({ models: [chatModel], chat: { model: 'gpt' } }))).toContain(
      'chat.model: no model named "gpt" in models',
    );
    expect(
      configErrorOf(() => parseConfig({ models: [chatModel], chat: { fallbackModel: 'small' } })),
    ).toContain('chat.fallbackModel: no model named "small" in models');
    expect(parseConfig({ models: [chatModel], chat: { model: 'chat' } }).chat.model).toBe('chat');
  });

  it('a default model that does not serve its role', () => {
    expect(configErrorOf(() => parseConfig({ models: [coder], chat: { model: 'coder' } }))).toContain(
      'chat.model: model "coder" does not serve chat (add chat to its roles)',
    );
  });

  it('replicas of one name that disagree on family', () => {
    const message = configErrorOf(() =>
      parseConfig({
        models: [coder, { ...coder, url: 'http://127.0.0.2:8000/v1', family: 'starcoder2' }],
      }),
    );
    expect(message).toContain('models.1.family: replicas of "coder" must share family');
  });

  it('accepts replicas of one name that agree', () => {
    const cfg = parseConfig({ models: [coder, { ...coder, url: 'http://127.0.0.2:8000/v1' }] });
    expect(cfg.models.map((m) => m.url)).toEqual(['http://127.0.0.1:8000/v1', 'http://127.0.0.2:8000/v1']);
  });

  it('a completion model with fim: template and neither family nor template', () => {
    const message = configErrorOf(() =>
      parseConfig({ models: [{ name: 'coder', url: 'http://127.0.0.1:8000/v1' }] }),
    );
    expect(message).toContain(
      'models.0.family: a completion model with `fim: template` needs `family` or `template`',
    );
  });

  it('does not require a family for fim: suffix or a chat-only model', () => {
    const cfg = parseConfig({
      models: [
        { name: 'a', url: 'http://127.0.0.1:8000/v1', fim: 'suffix' },
        { name: 'b', url: 'http://127.0.0.1:8001/v1', roles: ['chat'] },
      ],
    });
    expect(cfg.models.map((m) => m.family)).toEqual([undefined, undefined]);
  });

  it('a custom template without {suffix}', () => {
    const message = configErrorOf(() =>
      parseConfig({
        models: [{ name: 'coder', url: 'http://127.0.0.1:8000/v1', template: '<PRE>{prefix}<MID>' }],
      }),
    );
    expect(message).toContain('models.0.template: must contain {prefix} and {suffix}');
  });

  it('accepts a custom template with both placeholders instead of a family', () => {
    const template = '<PRE> {prefix} <SUF>{suffix} <MID>';
    const cfg = parseConfig({ models: [{ name: 'coder', url: 'http://127.0.0.1:8000/v1', template }] });
    expect(cfg.models[0]!.template).toBe(template);
  });

  it('a top level that is not a mapping', () => {
    expect(configErrorOf(() => parseConfig([1, 2], 'x.yaml'))).toBe(
      'invalid configuration in x.yaml: the top level must be a mapping',
    );
  });
});

describe('loadConfigFile', () => {
  it('names the file when it is not valid YAML', () => {
    const file = writeConfig('broken.yaml', 'server:\n  port: [9080\nlog: {level: info\n');
    const message = configErrorOf(() => loadConfigFile(file, {}));
    expect(message).toContain(`${file} is not valid YAML`);
  });

  it('names the file when it cannot be read', () => {
    const file = join(dir, 'missing.yaml');
    expect(configErrorOf(() => loadConfigFile(file, {}))).toBe(`cannot read config file ${file}: ENOENT`);
  });

  it('names the file in validation errors', () => {
    const file = writeConfig('bad-port.yaml', 'server:\n  port: 70000\n');
    const message = configErrorOf(() => loadConfigFile(file, {}));
    expect(message).toContain(`invalid configuration in ${file}`);
    expect(message).toMatch(/server\.port: /);
  });

  it('treats an empty file as all defaults', () => {
    const file = writeConfig('empty.yaml', '# nothing here\n');
    expect(loadConfigFile(file, {})).toEqual(parseConfig({}));
  });
});

describe('defaults', () => {
  it('fills every section of an empty config', () => {
    const cfg = parseConfig({});
    expect(cfg.publicUrl).toBeUndefined();
    expect(cfg.server).toEqual({ host: '127.0.0.1', port: 9080, drainMs: 10_000 });
    expect(cfg.log).toEqual({ level: 'info', logCode: false });
    expect(cfg.database).toEqual({});
    expect(cfg.models).toEqual([]);
    expect(cfg.completion).toEqual({
      maxTokens: 256,
      temperature: 0.1,
      suffixShare: 0.25,
      contextShare: 0.25,
      multiline: 'auto',
      timeouts: { queueMs: 500, firstTokenMs: 2000, totalMs: 5000 },
      rules: Object.fromEntries(REJECT_RULES.map((r) => [r, true])),
      filters: Object.fromEntries(FILTER_NAMES.map((f) => [f, true])),
      cache: { maxEntries: 5000, ttlMs: 300_000 },
      languageMap: [],
    });
  });

  it('fills per-model defaults', () => {
    const cfg = parseConfig({ models: [coder] });
    expect(cfg.models[0]).toEqual({
      name: 'coder',
      kind: 'openai',
      url: 'http://127.0.0.1:8000/v1',
      family: 'deepseek-coder',
      fim: 'template',
      chatApi: 'chat',
      stop: [],
      roles: ['completion'],
      minConcurrency: 1,
      adaptiveConcurrency: false,
      maxQueue: 16,
      contextWindow: 8192,
      charsPerToken: 3,
      healthCheckIntervalMs: 10_000,
    });
  });

  it('refuses chatApi: responses on a backend kind that does not speak it', () => {
    expect(() =>
      parseConfig({
        models: [
          { name: 'm', kind: 'ollama', url: 'http://127.0.0.1:11434', roles: ['chat'], chatApi: 'responses' },
        ],
      }),
    ).toThrow(/chatApi.*responses needs kind: openai/s);
  });

  it('keeps a partial section and defaults the rest of it', () => {
    const cfg = parseConfig({ completion: { filters: { scopeLimit: false }, cache: { maxEntries: 0 } } });
    expect(cfg.completion.filters.scopeLimit).toBe(false);
    expect(cfg.completion.filters.blankResult).toBe(true);
    expect(cfg.completion.cache).toEqual({ maxEntries: 0, ttlMs: 300_000 });
  });
});

describe('configLeaves', () => {
  it('lists nested scalar keys with their type and default', () => {
    const leaves = configLeaves(configSchema);
    const byPath = new Map(leaves.map((l) => [l.path.join('.'), l]));
    expect(byPath.get('completion.timeouts.firstTokenMs')).toMatchObject({
      type: 'number',
      defaultValue: 2000,
    });
    expect(byPath.get('log.logCode')).toMatchObject({ type: 'boolean', defaultValue: false });
    expect(byPath.get('log.level')).toMatchObject({
      type: 'enum',
      defaultValue: 'info',
      options: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    });
    expect(byPath.get('models')).toMatchObject({ type: 'array', defaultValue: [] });
    // object sections are walked into, not listed themselves
    expect(byPath.has('completion')).toBe(false);
    expect(byPath.has('completion.timeouts')).toBe(false);
  });
});
