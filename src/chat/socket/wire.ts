/**
 * What the extension's chat webview receives (docs/protocol.md §5.4), as types. Every `json` item
 * carries `offset`, its 1-based position in the chat's item list, which the client sends back in
 * `rechat` to resume after the last item it saw.
 */

export interface Advise {
  /** The button text. */
  title: string;
  /** Sent as the next `chat` prompt when clicked. */
  prompt: string;
}

/** Opens the answer bubble; must come before any text. */
export interface AgentStartItem {
  event: 'agent_start';
  agent_name: string;
  agent_icon: null;
  message: '';
  increment: false;
  offset: number;
}

/** One incremental piece of the answer (the client appends `answer`). */
export interface AgentThoughtItem {
  event: 'dify_agent_thought';
  agent_name: string;
  agent_icon: null;
  /** `message_id` is the chat id: the webview sends the first one back with a thumbs up/down. */
  dify_chunk: { event: 'message'; answer: string; message_id: string };
  offset: number;
}

export interface AgentAdviseItem {
  event: 'agent_advise';
  advises: Advise[];
  offset: number;
}

/** Marks the bubble finished. */
export interface AgentEndItem {
  event: 'agent_end';
  offset: number;
}

export type SocketJsonItem = AgentStartItem | AgentThoughtItem | AgentAdviseItem | AgentEndItem;

export const DONE = '[DONE]';

/**
 * One emitted item as kept for `rechat`: the event name and its argument. `[DONE]` and `error`
 * end a chat; `offset` numbers all of them, so the terminal item follows the last `json` one.
 */
export type ResumeItem =
  | { offset: number; event: 'json'; data: SocketJsonItem }
  | { offset: number; event: 'message'; data: typeof DONE }
  | { offset: number; event: 'error'; data: string };

export const isTerminal = (item: ResumeItem): boolean => item.event !== 'json';

/** The events the server emits, for socket.io's typed emit. */
export interface ServerToClientEvents {
  updateChatId(chatId: string): void;
  json(item: SocketJsonItem): void;
  /** `"pong"` or `"[DONE]"`. */
  message(text: string): void;
  /** A plain message: the webview shows its own error bubble and drops the socket. */
  error(message: string): void;
}

/** Sends a kept item the way it was first sent. */
export function emitItem(socket: { emit: EmitFn }, item: ResumeItem): void {
  if (item.event === 'json') socket.emit('json', item.data);
  else socket.emit(item.event, item.data);
}

type EmitFn = <E extends keyof ServerToClientEvents>(
  event: E,
  ...args: Parameters<ServerToClientEvents[E]>
) => boolean;
