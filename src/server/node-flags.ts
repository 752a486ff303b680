/**
 * The Node flags the server runs with. `bin/shenma.js` passes them in its shebang (`npx shenma`,
 * npm's installed command) and the image in its ENTRYPOINT; test/bin.test.ts holds the two to this
 * list. `--no-memory-reducer`: an idle server's heap is not shrunk, so the first seconds after a
 * quiet minute do not cost 2–4× the CPU (bench/README.md, "Idle decay"). Only the command line can
 * set it: Node refuses it in NODE_OPTIONS, and V8 reads it when the heap is made.
 */
export const SERVER_NODE_FLAGS: readonly string[] = ['--no-memory-reducer'];

/** The flags a `#!/usr/bin/env [-S] node [--flags]` line passes to Node; undefined for any other line. */
export function shebangNodeFlags(firstLine: string): string[] | undefined {
  const m = /^#!\S*env\s+(?:-S\s+)?node((?:\s+--\S+)*)\s*$/.exec(firstLine);
  return m ? m[1]!.trim().split(/\s+/).filter(Boolean) : undefined;
}
