import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Child, freePort, spawnChild } from './proc.js';

/**
 * nginx as the plain reverse-proxy baseline: one worker (Node is one thread too), keep-alive both
 * ways, no response buffering so SSE chunks pass through as they come. Runs in the foreground
 * from a config written into the benchmark's temp directory.
 */

export function findNginx(): string | undefined {
  try {
    const p = execFileSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' }).trim();
    if (p) return p;
  } catch {
    // Not on PATH.
  }
  return existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : undefined;
}

export interface NginxOptions {
  /** `events { worker_connections }`: client plus upstream connections of the one worker (default 4096). */
  workerConnections?: number;
}

export function nginxConfig(dir: string, listenPort: number, upstream: URL, opts: NginxOptions = {}): string {
  const tmp = (name: string) => join(dir, name);
  return `# written by the benchmark (bench/lib/nginx.ts)
worker_processes 1;
user root;
pid ${tmp('nginx.pid')};
error_log ${tmp('error.log')} warn;
events { worker_connections ${opts.workerConnections ?? 4096}; }
http {
  access_log off;
  client_body_temp_path ${tmp('client_body')};
  proxy_temp_path ${tmp('proxy')};
  fastcgi_temp_path ${tmp('fastcgi')};
  uwsgi_temp_path ${tmp('uwsgi')};
  scgi_temp_path ${tmp('scgi')};
  keepalive_requests 1000000;
  keepalive_timeout 65s;
  upstream model {
    server ${upstream.hostname}:${upstream.port};
    keepalive 256;
    keepalive_requests 1000000;
    keepalive_timeout 65s;
  }
  server {
    listen 127.0.0.1:${listenPort};
    client_max_body_size 16m;
    client_body_buffer_size 256k;
    location / {
      proxy_pass http://model;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_read_timeout 60s;
    }
  }
}
`;
}

export async function startNginx(
  bin: string,
  dir: string,
  upstream: URL,
  cpus?: string,
  opts: NginxOptions = {},
): Promise<{ child: Child; url: string }> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, nginxConfig(dir, port, upstream, opts));
  // -e keeps nginx from touching /var/log/nginx before it has read the config.
  const args = ['-p', dir, '-c', conf, '-e', join(dir, 'error.log'), '-g', 'daemon off;'];
  const { child } = await spawnChild({ name: 'nginx', command: bin, args, ...(cpus ? { cpus } : {}) });
  const url = `http://127.0.0.1:${port}`;
  // nginx prints nothing when it starts; poll until it proxies.
  const deadline = Date.now() + 10_000;
  for (let i = 0; i < 200 && Date.now() < deadline; i++) {
    if (child.proc.exitCode !== null) break;
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.ok) return { child, url };
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nginx did not start; output:\n${child.tail()}`);
}
