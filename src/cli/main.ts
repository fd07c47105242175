/**
 * CLI entry: one file per command, each exporting `register<Name>(program)`. Errors surface as
 * one clear line on stderr plus a non-zero exit code; stack traces only with SPIKESTREAM_DEBUG=1.
 */
import { Command, CommanderError } from 'commander';
import { registerConvert } from './convert.js';
import { registerInfo } from './info.js';
import { registerSynth } from './synth.js';
import { formatCliError } from './errors.js';
import { registerFrames } from './frames.js';
import { registerServe } from './serve.js';
import { registerReplay } from './replay.js';
import { registerTrain } from './train.js';
import { registerEval } from './eval.js';
import { registerRun } from './run.js';
import { registerClassify } from './classify.js';
import { registerNir } from './nir.js';

export function buildProgram(): Command {
  const program = new Command('spikestream')
    .description('Event-camera inference runtime: decode DVS recordings, bin them, run sparse SNNs, serve classifications.')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride();
  registerInfo(program);
  registerConvert(program);
  registerSynth(program);
  registerFrames(program);
  registerServe(program);
  registerReplay(program);
  registerTrain(program);
  registerEval(program);
  registerRun(program);
  registerClassify(program);
  registerNir(program);
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv as string[]);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander already printed help/version/usage errors.
      return e.exitCode;
    }
    process.stderr.write(`spikestream: ${formatCliError(e)}\n`);
    if (process.env.SPIKESTREAM_DEBUG === '1' && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    return 1;
  }
}
