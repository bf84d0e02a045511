/**
 * A stand-alone entry for the scale commands (`node dist/sim/scale/cli-main.js --peers 1e6 ...`), the
 * same commands `drp-sim` registers. A usage error is one line on stderr and exit code 2. The run
 * actions return promises (the run itself is in a worker thread), so the entry uses `parseAsync`.
 */
import { Command } from 'commander';
import { UsageError } from '../cli/args.js';
import { registerScaleCommand } from './cli.js';

const program = new Command('drp-sim').description('DRP routing at scale').showHelpAfterError(false);
registerScaleCommand(program);
program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof UsageError) {
    process.stderr.write(`error: ${err.message}\n`);
    process.exitCode = 2;
  } else {
    throw err;
  }
});
