import { randomUUID } from 'node:crypto';
import type { Server as HttpServer } from 'node:http';
import { Server, type Socket } from 'socket.io';
import type { ChatConfig } from '../../config/schema.js';
import type { CredentialEvents } from '../../http/credential-events.js';
import type { Identity } from '../../http/identity.js';
import type { ChatService } from '../service.js';
import { advisesFor } from './advise.js';
import { type AuthenticateToken, authenticateHandshake, ConnectRefused } from './auth.js';
import { ChatRun, type Followed, INTERRUPTED } from './chat-run.js';
import { generate } from './generate.js';
import type { SocketChatLog } from './log.js';
import { parseChatPayload, parseRechatPayload } from './payload.js';
import type { ChatRelay } from './relay.js';
import { socketChatRequest } from './request.js';
import type { KeptChat, ResumeStore } from './resume-store.js';
import { emitItem, isTerminal, type ServerToClientEvents } from './wire.js';

/**
 * The extension's chat over Socket.IO (docs/protocol.md §5): engine path `/socket.io/`,
 * namespace `/chat`, credentials in the CONNECT `auth`. One socket per question: `chat` →
 * `updateChatId`, the `json` items, `[DONE]`; `rechat` resumes after a reconnect; `ping` →
 * `pong`. Attached to the HTTP server Fastify listens on; Socket.IO answers its own path first.
 */

export interface SocketChatDeps {
  service: ChatService;
  /** Resolves the user of an access token or API token; throws (an HttpError 401) on bad credentials. */
  authenticateToken: AuthenticateToken;
  config: ChatConfig;
  resume: ResumeStore;
  /** Present when several replicas share `resume`: a `rechat` may follow an answer running on another. */
  relay?: ChatRelay;
  log: SocketChatLog;
  /** When a user is disabled or a token revoked, the open sockets are checked again at once. */
  credentialChanges?: Pick<CredentialEvents, 'subscribe'>;
}

export interface SocketChat {
  /** Aborts running answers, closes every connection, and waits until their outcomes are recorded. */
  close(): Promise<void>;
}

/**
 * `/chat`, plus the variants a base URL with a trailing slash produces (`//chat`, the client
 * joins `${baseUrl}/chat` by string) and a trailing slash. A closed set: every distinct
 * namespace name is an object kept by the server, so names must not be unbounded.
 */
export const CHAT_NAMESPACE = /^\/{1,2}chat\/?$/;

interface SocketData {
  identity: Identity;
  /** The chat this socket follows (asked for, or resumed, here or on another replica), if any. */
  run?: Followed;
}

type ClientToServerEvents = Record<'chat' | 'rechat' | 'ping', (payload: unknown) => void>;
type ChatSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

const NOT_YOURS = 'not your chat';

export function attachSocketChat(server: HttpServer, deps: SocketChatDeps): SocketChat {
  const { service, config, resume, relay, log } = deps;
  const io = new Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>(
    server,
    {
      path: '/socket.io',
      serveClient: false,
      // The webview's Origin is vscode-webview://...; the credentials are in the CONNECT, not cookies.
      cors: { origin: '*' },
      transports: ['websocket', 'polling'],
      // Leave other upgrade requests on this server alone instead of destroying them after 1 s.
      destroyUpgrade: false,
      cleanupEmptyChildNamespaces: true,
      // Room for the largest selection the payload check accepts (1 M characters, in UTF-8).
      maxHttpBufferSize: 4 * 1024 * 1024,
    },
  );
  /** Answers in progress by chat id: a `rechat` for one of them follows it live. */
  const runs = new Map<string, ChatRun>();
  const pending = new Set<Promise<void>>();

  const connected = new Set<ChatSocket>();

  /**
   * The socket's credentials, checked again now (a user disabled or a token revoked since the
   * CONNECT). On refusal the socket is told why and disconnected, which also aborts its answer.
   */
  async function stillAllowed(socket: ChatSocket): Promise<boolean> {
    const result = await authenticateHandshake(
      socket.handshake.auth,
      socket.handshake.address,
      deps.authenticateToken,
      log,
    );
    if (!(result instanceof ConnectRefused)) {
      socket.data.identity = result;
      return true;
    }
    if (result.data.status >= 500) {
      // The check itself failed (database away): refuse this request, keep the connection.
      socket.emit('error', result.message);
      return false;
    }
    log.info(
      { user: socket.data.identity.name, address: socket.handshake.address, reason: result.message },
      'socket chat: credentials no longer valid, disconnecting',
    );
    socket.emit('error', result.message);
    socket.disconnect(true);
    return false;
  }

  const stopListening = deps.credentialChanges?.subscribe((change) => {
    // After every listener has run (the caches forget first), check the sockets concerned.
    setImmediate(() => {
      for (const socket of connected) {
        const { identity } = socket.data;
        const concerned =
          change.kind === 'user' ? identity.userId === change.userId : identity.via === 'api_token';
        if (concerned)
          stillAllowed(socket).catch((err: unknown) => log.error({ err }, 'socket chat: re-check failed'));
      }
    });
  });
  relay?.serve((chatId) => runs.get(chatId));

  const chat = io.of(CHAT_NAMESPACE);
  chat.use((socket, next) => {
    authenticateHandshake(socket.handshake.auth, socket.handshake.address, deps.authenticateToken, log).then(
      (result) => {
        if (result instanceof Error) {
          log.info(
            { address: socket.handshake.address, reason: result.message },
            'socket chat: connection refused',
          );
          next(result);
          return;
        }
        socket.data.identity = result;
        next();
      },
      (err: unknown) => next(err instanceof Error ? err : new Error(String(err))),
    );
  });

  const busy = (socket: ChatSocket) => socket.data.run !== undefined && !socket.data.run.finished;

  async function onChat(socket: ChatSocket, input: unknown): Promise<void> {
    if (busy(socket)) {
      socket.emit('error', 'a chat is already in progress on this connection');
      return;
    }
    if (!(await stillAllowed(socket))) return;
    if (busy(socket)) {
      socket.emit('error', 'a chat is already in progress on this connection');
      return;
    }
    const parsed = parseChatPayload(input);
    if (!parsed.ok) {
      socket.emit('error', parsed.message);
      return;
    }
    const model = service.defaultModel();
    if (!model) {
      socket.emit('error', 'no chat model is configured (see models: in shenma.yaml)');
      return;
    }
    const identity = socket.data.identity;
    const chatId = randomUUID();
    const request = socketChatRequest({ payload: parsed.value, identity, chatId, model, config, log });
    const run = new ChatRun(chatId, identity.userId, resume, log);
    runs.set(chatId, run);
    socket.data.run = run;
    socket.emit('updateChatId', chatId);
    run.follow(socket, 0);
    log.debug({ chatId, user: identity.name, action: request.action, locale: request.locale }, 'socket chat');
    const done = generate(run, {
      service,
      ctx: request.ctx,
      agentName: config.agentName,
      ...(config.advise ? { advises: advisesFor(request.action, request.locale) } : {}),
      log,
    })
      .then(() => run.flushed())
      .finally(() => {
        runs.delete(chatId);
        pending.delete(done);
      });
    pending.add(done);
  }

  async function onRechat(socket: ChatSocket, input: unknown): Promise<void> {
    const parsed = parseRechatPayload(input);
    if (!parsed.ok) {
      socket.emit('error', parsed.message);
      return;
    }
    if (busy(socket)) {
      socket.emit('error', 'a chat is already in progress on this connection');
      return;
    }
    if (!(await stillAllowed(socket)) || busy(socket)) return;
    const { chatId, offset } = parsed.value;
    const { userId } = socket.data.identity;
    const live = runs.get(chatId);
    if (live) {
      if (live.owner !== userId) {
        socket.emit('error', NOT_YOURS);
        return;
      }
      socket.data.run = live;
      live.follow(socket, offset);
      return;
    }
    let kept: KeptChat | undefined;
    try {
      kept = await resume.read(chatId, offset);
    } catch (err) {
      log.warn({ err, chatId }, 'socket chat: could not read a chat for rechat');
      socket.emit('error', 'cannot resume the chat right now; please ask again');
      return;
    }
    if (busy(socket)) {
      socket.emit('error', 'a chat is already in progress on this connection');
      return;
    }
    if (!kept) {
      socket.emit('error', 'unknown or expired chat; please ask again');
      return;
    }
    if (kept.owner !== userId) {
      socket.emit('error', NOT_YOURS);
      return;
    }
    const first = kept.items[0];
    if (first && first.offset !== offset + 1) {
      socket.emit(
        'error',
        `cannot resume: the items after offset ${offset} are no longer kept; please ask again`,
      );
      return;
    }
    for (const item of kept.items) emitItem(socket, item);
    const last = kept.items.at(-1);
    if (last && isTerminal(last)) return;
    if (relay && kept.runner && kept.runner !== relay.replicaId) {
      // Not finished, and generated by another replica: follow it there (it says if it stopped).
      socket.data.run = relay.follow(chatId, userId, kept.runner, last?.offset ?? offset, socket);
      return;
    }
    // Neither running here nor finished: the server that ran it stopped (restart, crash).
    socket.emit('error', INTERRUPTED);
  }

  chat.on('connection', (socket: ChatSocket) => {
    connected.add(socket);
    socket.on('chat', (payload) => {
      onChat(socket, payload).catch((err: unknown) => log.error({ err }, 'socket chat: chat failed'));
    });
    socket.on('rechat', (payload) => {
      onRechat(socket, payload).catch((err: unknown) => log.error({ err }, 'socket chat: rechat failed'));
    });
    socket.on('ping', () => {
      socket.emit('message', 'pong');
    });
    socket.on('disconnect', () => {
      connected.delete(socket);
      socket.data.run?.unfollow(socket);
    });
  });

  return {
    async close() {
      stopListening?.();
      for (const run of runs.values()) run.abort('the server is shutting down');
      // Not io.close(): that would also close the HTTP server, which is not ours to close.
      io.engine.close();
      await Promise.allSettled([...pending]);
    },
  };
}
