import { type Child, spawnChild } from './proc.js';
/** The fake model's control routes (test/fake-model/server.ts), used from the benchmark process. */

export interface Script {
  chunks?: string[];
  text?: string;
  chunkChars?: number;
  ttftMs?: number;
  interChunkMs?: number;
  finishReason?: string;
}

/** The subset of the fake's StreamRecord the benchmark reads. */
export interface StreamRecord {
  chunksPlanned: number;
  chunksWritten: number;
  chunksWrittenAfterClientClose: number;
  clientClosed: boolean;
  finished: boolean;
  startedAt: number;
  chunkWrittenAt: number[];
  clientClosedAt?: number;
  finishedAt?: number;
}

export class FakeControl {
  constructor(private readonly url: string) {}

  private async post(path: string, body: unknown): Promise<void> {
    const res = await fetch(`${this.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`fake model ${path}: HTTP ${res.status}`);
  }

  /** Clears records and the queue and restores the default script given on the command line. */
  reset(): Promise<void> {
    return this.post('/__fake/reset', {});
  }

  setDefault(script: Script): Promise<void> {
    return this.post('/__fake/default-script', script);
  }

  enqueue(...scripts: Script[]): Promise<void> {
    return this.post('/__fake/enqueue', scripts);
  }

  async streams(): Promise<StreamRecord[]> {
    const res = await fetch(`${this.url}/__fake/streams`, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new Error(`fake model /__fake/streams: HTTP ${res.status}`);
    return (await res.json()) as StreamRecord[];
  }
}

export interface FakeProcessOptions {
  ttftMs: number;
  interChunkMs: number;
  chunks: number;
  text: string;
  root: string;
  cpus?: string;
}

/** The fake model in its own process, as every benchmark starts it. */
export async function spawnFakeModel(
  o: FakeProcessOptions,
): Promise<{ child: Child; url: string; control: FakeControl }> {
  const { child, match } = await spawnChild({
    name: 'fake model',
    command: process.execPath,
    args: [
      '--import',
      'tsx',
      'test/fake-model/main.ts',
      '--port',
      '0',
      '--ttft-ms',
      String(o.ttftMs),
      '--inter-chunk-ms',
      String(o.interChunkMs),
      '--chunks',
      String(o.chunks),
      '--text',
      o.text,
    ],
    cwd: o.root,
    ready: /^READY (\S+)/,
    ...(o.cpus ? { cpus: o.cpus } : {}),
  });
  const url = match![1]!;
  return { child, url, control: new FakeControl(url) };
}
