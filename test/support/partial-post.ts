import { request } from 'node:http';

/**
 * Sends a request's headers and only the first `sendBytes` of its body, then waits for an answer
 * without sending more. A server that needs the whole body before answering never answers: the
 * result is then 'no answer' after `waitMs`. Used to show a refusal happens before the body is read.
 */
export async function postPartially(opts: {
  url: string;
  path: string;
  headers: Record<string, string>;
  /** Declared length; omit for chunked transfer encoding. */
  declaredLength?: number;
  sendBytes: number;
  waitMs?: number;
}): Promise<{ status: number; body: string } | 'no answer'> {
  const target = new URL(opts.path, opts.url);
  return new Promise((resolve, reject) => {
    const req = request(target, {
      method: 'POST',
      headers: {
        ...opts.headers,
        ...(opts.declaredLength !== undefined ? { 'content-length': String(opts.declaredLength) } : {}),
      },
    });
    const timer = setTimeout(() => {
      req.destroy();
      resolve('no answer');
    }, opts.waitMs ?? 10_000);
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => {
        clearTimeout(timer);
        req.destroy();
        resolve({ status: res.statusCode ?? 0, body });
      });
      res.on('error', () => undefined);
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    // The body starts like JSON so that a server parsing it as it arrives has something to chew on.
    req.write(`{"messages":"${'x'.repeat(Math.max(0, opts.sendBytes - 14))}`);
  });
}
