export { attachSocketChat, CHAT_NAMESPACE, type SocketChat, type SocketChatDeps } from './attach.js';
export { type AuthenticateToken, MISSING_TOKEN } from './auth.js';
export { type Followed, INTERRUPTED } from './chat-run.js';
export type { SocketChatLog } from './log.js';
export { RedisResumeStore, type RedisResumeStoreOptions } from './redis-resume.js';
export type { ChatRelay } from './relay.js';
export {
  type KeptChat,
  MemoryResumeStore,
  type MemoryResumeStoreOptions,
  type ResumeStore,
} from './resume-store.js';
export type { Advise, ResumeItem, SocketJsonItem } from './wire.js';
