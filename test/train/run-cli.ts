/** Runs the CLI in a child process under tsx (for tests that must kill it): node --import tsx test/train/run-cli.ts <args>. */
import { main } from '../../src/cli/main.js';

process.exitCode = await main(['node', 'spikestream', ...process.argv.slice(2)]);
