import type { ChatRun, Followed, Follower } from './chat-run.js';

/**
 * How a socket on one replica follows an answer generated on another, when several replicas
 * share the resume store (Redis): the client's reconnect after a network blip may land on any
 * replica. The embedded shape has no relay: every answer runs in this process.
 */
export interface ChatRelay {
  /** This process, as the stores it writes name it (`KeptChat.runner`). */
  readonly replicaId: string;
  /** Starts answering other replicas' follow requests for the answers running here (retrying while Redis is away). */
  serve(runs: (chatId: string) => ChatRun | undefined): void;
  /**
   * Follows `chatId`, owned by `owner` and generated on replica `runner`, sending `follower` the
   * items after `fromOffset` as they are stored, until the answer ends. While followed, the
   * answer keeps running on `runner` even when the socket that asked there is gone.
   */
  follow(chatId: string, owner: string, runner: string, fromOffset: number, follower: Follower): Followed;
}
