// Preloaded into the Node targets of `npm run bench:chat` (node --import): measures this
// process's event-loop delay with perf_hooks and serves it on a loopback port of its own, so the
// benchmark can read it without a route in Shenma. Plain JS: Shenma runs from dist/ without tsx.
//   GET /reset → clears the histograms; GET / → {p50, p99, max, mean} in ms since the last reset,
//   plus `firstToken` when BENCH_FIRST_TOKEN_TRACE=1 (see below).
import { AsyncLocalStorage } from 'node:async_hooks';
import diagnostics from 'node:diagnostics_channel';
import { createServer, ServerResponse } from 'node:http';
import { createHistogram, monitorEventLoopDelay } from 'node:perf_hooks';

const port = Number(process.env.BENCH_LOOP_DELAY_PORT);
const ms = (ns) => Math.round(ns / 1e4) / 100;
const summary = (h) => ({ p50: ms(h.percentile(50)), p90: ms(h.percentile(90)), p99: ms(h.percentile(99)) });

/**
 * `bench:chat --trace-first-token`: where each request's time to its first written byte goes,
 * taken from diagnostics channels (Node's HTTP server, undici) and the response's first write, so
 * nothing in Shenma changes. Off by default: it adds a little work to every request and write.
 *   own     request start → upstream request created (routing, auth, validation, hooks)
 *   undici  created → its headers written (the wait for a connection, or undici's idle-socket check)
 *   model   headers written → the model's response headers arrive (its time to first token plus the
 *           two hops, each waiting for the other process's event loop)
 *   reply   model's headers → first write to the client
 *   turn    a 7 ms timer → the setImmediate it schedules: how long the loop's I/O phase runs on
 *           (most turns are short; the long ones are what a reply arriving then waits for)
 */
function firstTokenTrace() {
  const segments = ['own', 'undici', 'model', 'reply'];
  const histograms = Object.fromEntries([...segments, 'turn'].map((s) => [s, createHistogram()]));
  const context = new AsyncLocalStorage();
  const byResponse = new WeakMap();
  const byUpstream = new WeakMap();
  const now = () => performance.now();
  // Histograms count integers: nanoseconds.
  const record = (name, from, to) => histograms[name].record(Math.max(1, Math.round((to - from) * 1e6)));

  diagnostics.subscribe('http.server.request.start', ({ response }) => {
    const trace = { start: now() };
    byResponse.set(response, trace);
    // The rest of this request's handling (and the upstream request it makes) runs in this context.
    context.enterWith(trace);
  });
  diagnostics.subscribe('undici:request:create', ({ request }) => {
    const trace = context.getStore();
    if (trace && trace.created === undefined) {
      trace.created = now();
      byUpstream.set(request, trace);
    }
  });
  diagnostics.subscribe('undici:client:sendHeaders', ({ request }) => {
    const trace = byUpstream.get(request);
    if (trace && trace.sent === undefined) trace.sent = now();
  });
  diagnostics.subscribe('undici:request:headers', ({ request }) => {
    const trace = byUpstream.get(request);
    if (trace && trace.answered === undefined) trace.answered = now();
  });
  const firstWrite = (response) => {
    const trace = byResponse.get(response);
    if (!trace || trace.done) return;
    trace.done = true;
    // Only requests that went upstream and had an answer: the chat streams.
    if (trace.created === undefined || trace.sent === undefined || trace.answered === undefined) return;
    const at = now();
    record('own', trace.start, trace.created);
    record('undici', trace.created, trace.sent);
    record('model', trace.sent, trace.answered);
    record('reply', trace.answered, at);
  };
  for (const method of ['write', 'end']) {
    const original = ServerResponse.prototype[method];
    ServerResponse.prototype[method] = function (...args) {
      firstWrite(this);
      return original.apply(this, args);
    };
  }
  setInterval(() => {
    const from = now();
    setImmediate(() => record('turn', from, now()));
  }, 7).unref();

  return {
    reset: () => {
      for (const h of Object.values(histograms)) h.reset();
    },
    read: () =>
      histograms.own.count === 0
        ? undefined
        : {
            streams: histograms.own.count,
            ...Object.fromEntries(Object.entries(histograms).map(([name, h]) => [name, summary(h)])),
          },
  };
}

if (port > 0) {
  // 10 ms sampling (Node's default): enough to see a saturated loop, cheap enough not to skew CPU.
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  const trace = process.env.BENCH_FIRST_TOKEN_TRACE === '1' ? firstTokenTrace() : undefined;
  const server = createServer((req, res) => {
    if (req.url === '/reset') {
      histogram.reset();
      trace?.reset();
    }
    const body =
      req.url === '/reset'
        ? '{}'
        : JSON.stringify({
            p50: ms(histogram.percentile(50)),
            p99: ms(histogram.percentile(99)),
            max: ms(histogram.max),
            mean: ms(histogram.mean),
            firstToken: trace?.read(),
          });
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  server.listen(port, '127.0.0.1');
  // Never keep the process alive on our account.
  server.unref();
}
