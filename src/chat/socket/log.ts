/** The logger the socket chat needs (pino and Fastify's logger fit). */
export interface SocketChatLog {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}
