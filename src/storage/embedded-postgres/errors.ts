/**
 * The embedded database's failures that an operator can act on, each written as one line for the
 * CLI (`shenma start`, `shenma db`, `shenma users`/`tokens`) to print instead of a stack trace:
 * a PGlite data directory, a path too long for the socket, a server that will not stop.
 */
export class EmbeddedPostgresError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EmbeddedPostgresError';
  }
}

/** The server cannot run here at all: its binaries are missing, or its user cannot reach them. */
export class EmbeddedPostgresUnavailableError extends EmbeddedPostgresError {
  constructor(message: string) {
    super(message);
    this.name = 'EmbeddedPostgresUnavailableError';
  }
}
