/**
 * The Node flags the server runs with. `bin/shenma.js` passes them in its shebang (`npx shenma`,
 * npm's installed command) and the image in its ENTRYPOINT; test/bin.test.ts holds the two to this
 * list. Only the command line can set them: Node refuses them in NODE_OPTIONS, and V8 reads them
 * when the heap is made.
 *
 * `--no-memory-reducer`: an idle server's heap is not shrunk, so the first seconds after a quiet
 * minute do not cost 2–4× the CPU (bench/README.md, "Idle decay").
 *
 * `--no-allocation-site-pretenuring`: V8 moves an allocation site whose objects it saw survive
 * straight to the old generation. Under load it did that to objects built per request (the
 * validated body among them), and a dead old object keeps the young strings it points to alive
 * until the next full collection: every request's code (~18 KB) was copied twice and promoted,
 * young collections took 2–4× longer, and a completion cost a third more CPU (bench/README.md,
 * "V8's pretenuring").
 *
 * `--max-semi-space-size=16`: the young generation stays at the size Node 20 and 22 give it (two
 * 16 MB semi-spaces). Node 24's V8 doubled it, and `shenma start` on Node 24 then peaked at
 * 369–388 MiB under bench:completion against ~200 MiB on Node 20 and 22; capped, 312 MiB, with the
 * same CPU per request (bench/README.md, "Node 22 and Node 24"). On Node 20 and 22 it changes
 * nothing.
 */
export const SERVER_NODE_FLAGS: readonly string[] = [
  '--no-memory-reducer',
  '--no-allocation-site-pretenuring',
  '--max-semi-space-size=16',
];

/** The flags a `#!/usr/bin/env [-S] node [--flags]` line passes to Node; undefined for any other line. */
export function shebangNodeFlags(firstLine: string): string[] | undefined {
  const m = /^#!\S*env\s+(?:-S\s+)?node((?:\s+--\S+)*)\s*$/.exec(firstLine);
  return m ? m[1]!.trim().split(/\s+/).filter(Boolean) : undefined;
}
