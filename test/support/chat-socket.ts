import { createRequire } from 'node:module';

/** The extension's chat socket (socket.io-client 4.0.1, websocket only), kept open for a test. */

type SocketIoClient = typeof import('socket.io-client', { with: { 'resolution-mode': 'require' }});
const { io } = createRequire(import.meta.url)('socket.io-client') as SocketIoClient;
type Socket = InstanceType<SocketIoClient['Socket']>;

export const CHAT = {
  action: 'chat',
  prompt: 'What does add do?',
  code: '',
  language: '',
  filePath: '',
  stream: true,
  conversation_id: 'conv-revocation',
  range: { startLine: 0, endLine: 0 },
};

export interface OpenSocket {
  socket: Socket;
  events: { event: string; data: unknown }[];
  disconnected: Promise<string>;
  /** Resolves at the next `[DONE]`, rejects at the next `error`. */
  answer(): Promise<void>;
}

export async function openChatSocket(baseUrl: string, token: string): Promise<OpenSocket> {
  const socket = io(`${baseUrl}/chat`, {
    auth: { token },
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
  });
  const events: { event: string; data: unknown }[] = [];
  socket.onAny((event: string, data: unknown) => events.push({ event, data }));
  const disconnected = new Promise<string>((resolve) => socket.once('disconnect', resolve));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  const answer = () =>
    new Promise<void>((resolve, reject) => {
      const done = (m: string) => {
        if (m !== '[DONE]') return;
        socket.off('message', done);
        resolve();
      };
      socket.on('message', done);
      socket.once('error', (e: unknown) => reject(new Error(String(e))));
    });
  return { socket, events, disconnected, answer };
}
