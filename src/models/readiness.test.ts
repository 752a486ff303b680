import { describe, expect, it } from 'vitest';
import { modelSchema } from '../config/schema.js';
import type { ModelBackend } from './backend.js';
import { ModelRegistry } from './pool.js';
import { modelReadiness } from './readiness.js';

function backend(probe: () => Promise<void>): ModelBackend {
  return {
    // biome-ignore lint/correctness/useYield: readiness never streams
    async *streamFim() {
      throw new Error('not used');
    },
    // biome-ignore lint/correctness/useYield: readiness never streams
    async *streamChat() {
      throw new Error('not used');
    },
    probe,
    close: async () => {},
  };
}

const chat = modelSchema.parse({ name: 'chat', url: 'http://127.0.0.1:1/v1', roles: ['chat'] });

describe('model readiness', () => {
  it('does not report a model that was never probed as healthy', async () => {
    const models = new ModelRegistry([chat], () => backend(async () => {}));
    const result = await modelReadiness(models, 'chat').check();
    expect(result.ok).toBe(false);
    expect(result.detail).toEqual({
      chat: { healthy_replicas: 0, replicas: 1, errors: ['http://127.0.0.1:1/v1: not probed yet'] },
    });
  });

  it('reports it healthy once a probe answered', async () => {
    const models = new ModelRegistry([chat], () => backend(async () => {}));
    await models.startHealthChecks();
    expect((await modelReadiness(models, 'chat').check()).ok).toBe(true);
    await models.close();
  });

  it('is not ready when no model serves the role, and says so', async () => {
    const models = new ModelRegistry([chat], () => backend(async () => {}));
    expect(await modelReadiness(models, 'completion').check()).toEqual({
      ok: false,
      detail: 'no completion model configured',
    });
  });
});
