// Preloaded into the Node targets of `npm run bench:chat` (node --import): measures this
// process's event-loop delay with perf_hooks and serves it on a loopback port of its own, so the
// benchmark can read it without a route in Shenma. Plain JS: Shenma runs from dist/ without tsx.
//   GET /reset → clears the histogram; GET / → {p50, p99, max, mean} in ms since the last reset.
import { createServer } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const port = Number(process.env.BENCH_LOOP_DELAY_PORT);
if (port > 0) {
  // 10 ms sampling (Node's default): enough to see a saturated loop, cheap enough not to skew CPU.
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  const ms = (ns) => Math.round(ns / 1e4) / 100;
  const server = createServer((req, res) => {
    if (req.url === '/reset') histogram.reset();
    const body =
      req.url === '/reset'
        ? '{}'
        : JSON.stringify({
            p50: ms(histogram.percentile(50)),
            p99: ms(histogram.percentile(99)),
            max: ms(histogram.max),
            mean: ms(histogram.mean),
          });
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  server.listen(port, '127.0.0.1');
  // Never keep the process alive on our account.
  server.unref();
}
