/**
 * The longest path a Unix socket can be bound at: sun_path is 108 bytes on Linux including the
 * terminating NUL (104 on macOS). Shared by the admin socket and the embedded database's socket.
 */
export const MAX_SOCKET_PATH_BYTES = process.platform === 'linux' ? 107 : 103;
