import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenStore, UserStore } from '../src/identity/users.js';
import { type FakeModel, startFakeModel } from './fake-model/server.js';
import { CHAT, openChatSocket } from './support/chat-socket.js';
import { pollingLogin } from './support/polling-login.js';
import { startTestShenma, type TestShenma } from './support/shenma.js';

/**
 * Issue #7 item 3: a disabled user's open chat socket kept working (a full answer 35 s after
 * the disable). Now every chat request on a socket checks the credentials again, and a disable
 * or revoke made through the server (admin socket, `shenma users disable`) disconnects the
 * sockets concerned at once.
 */

let fake: FakeModel;
let shenma: TestShenma;

beforeAll(async () => {
  fake = await startFakeModel();
  shenma = await startTestShenma({
    models: [{ name: 'assistant', kind: 'openai', url: `${fake.url}/v1`, roles: ['chat'] }],
    identity: { captcha: 'off' },
  });
});
afterAll(async () => {
  await shenma?.close();
  await fake?.close();
});

describe('chat sockets follow credential changes', () => {
  it('disabling a user disconnects their open socket at once; the token no longer connects', async () => {
    await new UserStore(shenma.server.db.db).add('dora', 'dora-password-1');
    const { access_token: jwt } = await pollingLogin(
      { start: shenma.url, confirm: shenma.url, poll: shenma.url },
      { state: 'revocation-dora-1', machineCode: 'dora-pc', username: 'dora', password: 'dora-password-1' },
    );
    const open = await openChatSocket(shenma.url, jwt);
    fake.enqueue({ chunks: ['It adds.'] });
    open.socket.emit('chat', CHAT);
    await open.answer();

    // As `shenma users disable dora` does it, through the running server.
    await new UserStore(shenma.server.db.db, { events: shenma.server.credentialChanges }).setDisabled(
      'dora',
      true,
    );
    expect(await open.disconnected).toBe('io server disconnect');
    const error = open.events.find((e) => e.event === 'error');
    expect(String(error?.data)).toMatch(/disabled/);

    await expect(openChatSocket(shenma.url, jwt)).rejects.toThrow(/disabled/);
  });

  it("a token revoked where the server did not hear of it is refused at the socket's next chat", async () => {
    await new UserStore(shenma.server.db.db).add('erin', undefined);
    const { secret, token } = await new TokenStore(shenma.server.db.db).create('erin', { name: 'ide' });
    const open = await openChatSocket(shenma.url, secret);
    fake.enqueue({ chunks: ['First answer.'] });
    open.socket.emit('chat', CHAT);
    await open.answer();
    const modelCalls = fake.requests.length;

    // Revoked straight in the database (another tool, another replica without Redis).
    await new TokenStore(shenma.server.db.db).revoke(token.id);
    fake.enqueue({ chunks: ['Must never be sent.'] });
    open.socket.emit('chat', { ...CHAT, prompt: 'And again?' });
    await expect(open.answer()).rejects.toThrow(/revoked/);
    expect(await open.disconnected).toBe('io server disconnect');
    expect(fake.requests.length).toBe(modelCalls);
    expect(open.events.filter((e) => e.event === 'updateChatId')).toHaveLength(1);
  });
});
