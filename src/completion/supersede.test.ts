import { describe, expect, it } from 'vitest';
import { SupersededError, SupersedeRegistry } from './supersede.js';

describe('SupersedeRegistry', () => {
  it('aborts the previous request with the same key with a SupersededError', () => {
    const reg = new SupersedeRegistry();
    const older = new AbortController();
    const newer = new AbortController();
    reg.claim('v2:alice:1', older);
    expect(older.signal.aborted).toBe(false);
    reg.claim('v2:alice:1', newer);
    expect(older.signal.aborted).toBe(true);
    expect(older.signal.reason).toBeInstanceOf(SupersededError);
    expect((older.signal.reason as Error).message).toBe('superseded by a newer request from the same client');
    expect(newer.signal.aborted).toBe(false);
    expect(reg.size).toBe(1);
  });

  it('leaves requests with other keys alone', () => {
    const reg = new SupersedeRegistry();
    const a = new AbortController();
    const b = new AbortController();
    reg.claim('v2:alice:1', a);
    reg.claim('v2:bob:1', b);
    expect(a.signal.aborted).toBe(false);
    expect(b.signal.aborted).toBe(false);
    expect(reg.size).toBe(2);
  });

  it('does not abort a request that claims its own key again', () => {
    const reg = new SupersedeRegistry();
    const c = new AbortController();
    reg.claim('k', c);
    reg.claim('k', c);
    expect(c.signal.aborted).toBe(false);
    expect(reg.size).toBe(1);
  });

  it('unregistering removes the key so a later request aborts nothing', () => {
    const reg = new SupersedeRegistry();
    const first = new AbortController();
    const done = reg.claim('k', first);
    done();
    expect(reg.size).toBe(0);
    reg.claim('k', new AbortController());
    expect(first.signal.aborted).toBe(false);
  });

  it('a superseded request unregistering late does not remove the newer one', () => {
    const reg = new SupersedeRegistry();
    const older = new AbortController();
    const newer = new AbortController();
    const doneOlder = reg.claim('k', older);
    reg.claim('k', newer);
    doneOlder();
    expect(reg.size).toBe(1);
    // the newer one is still registered: a third request supersedes it
    reg.claim('k', new AbortController());
    expect(newer.signal.aborted).toBe(true);
  });

  it('unregistering twice is harmless', () => {
    const reg = new SupersedeRegistry();
    const done = reg.claim('k', new AbortController());
    done();
    done();
    expect(reg.size).toBe(0);
  });
});

describe('SupersedeRegistry with a broadcast (several replicas)', () => {
  /** Records what the registry announces; the test delivers it in the order it chooses. */
  function announcing() {
    const published: { key: string; claimId: string }[] = [];
    const reg = new SupersedeRegistry({ publish: (key, claimId) => published.push({ key, claimId }) });
    return { reg, published };
  }

  it('announces every claim with an id unique to this replica', () => {
    const a = announcing();
    const b = announcing();
    a.reg.claim('k', new AbortController());
    a.reg.claim('k', new AbortController());
    b.reg.claim('k', new AbortController());
    const ids = [...a.published, ...b.published].map((p) => p.claimId);
    expect(new Set(ids).size).toBe(3);
    expect(a.published.map((p) => p.key)).toEqual(['k', 'k']);
  });

  it('aborts its request when another claim of the key is heard after its own', () => {
    const { reg, published } = announcing();
    const mine = new AbortController();
    reg.claim('k', mine);
    reg.announced('k', published[0]!.claimId);
    reg.announced('other-key', 'elsewhere:1');
    expect(mine.signal.aborted).toBe(false);
    reg.announced('k', 'elsewhere:2');
    expect(mine.signal.aborted).toBe(true);
    expect(mine.signal.reason).toBeInstanceOf(SupersededError);
    expect(reg.size).toBe(0);
  });

  it('keeps its request when the other claim was heard before its own (the other is older)', () => {
    const { reg, published } = announcing();
    const mine = new AbortController();
    reg.claim('k', mine);
    reg.announced('k', 'elsewhere:1');
    reg.announced('k', published[0]!.claimId);
    expect(mine.signal.aborted).toBe(false);
    expect(reg.size).toBe(1);
  });

  it('ignores claims of keys it has no live request for', () => {
    const { reg, published } = announcing();
    const done = reg.claim('k', new AbortController());
    reg.announced('k', published[0]!.claimId);
    done();
    reg.announced('k', 'elsewhere:1');
    expect(reg.size).toBe(0);
  });
});
