import { main } from './main.js';

// Entry point for `bin/shenma.js` (compiled) and for tests that run the CLI from source with tsx.
process.exitCode = await main(process.argv.slice(2));
