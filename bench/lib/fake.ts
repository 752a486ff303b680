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
