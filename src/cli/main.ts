/**
 * The `portunus` command line: picks the command, prints help and usage errors, and turns every outcome into
 * one of the documented exit codes (./exit-codes.ts). `bin/portunus` calls main().
 * @module
 */
import fs from 'node:fs';
import { ctl, parseCtlArgs } from './ctl.js';
import { ExitCode, UsageError } from './exit-codes.js';
import { CTL_HELP, MAIN_HELP, MUX_HELP, serveHelp } from './help.js';
import { mux, parseMuxArgs } from './mux.js';
import { serve } from './serve.js';
import { parseServeArgs } from './serve-config.js';

/** Runs the command line `argv` (without node and the script); resolves with the exit code. */
export async function run(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
      case 'help':
      case '-h':
      case '--help':
        process.stdout.write(MAIN_HELP);
        return command === undefined ? ExitCode.USAGE : ExitCode.OK;
      case '-v':
      case '--version':
        process.stdout.write(`${version()}\n`);
        return ExitCode.OK;
      case 'serve': {
        const config = parseServeArgs(rest);
        if (config === undefined) {
          process.stdout.write(serveHelp());
          return ExitCode.OK;
        }
        return await serve(config);
      }
      case 'mux': {
        const config = parseMuxArgs(rest);
        if (config === undefined) {
          process.stdout.write(MUX_HELP);
          return ExitCode.OK;
        }
        return await mux(config);
      }
      case 'ctl':
        if (parseCtlArgs(rest) === undefined) {
          process.stdout.write(CTL_HELP);
          return ExitCode.OK;
        }
        return await ctl(rest);
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}: serve, ctl or mux`);
    }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    const helpFor = command === 'serve' || command === 'ctl' || command === 'mux' ? ` ${command}` : '';
    process.stderr.write(`portunus${helpFor}: ${error.message}\nRun \`portunus${helpFor} --help\` for usage.\n`);
    return ExitCode.USAGE;
  }
}

/** Entry point of bin/portunus: runs, then exits with the code (serve keeps running until its signals). */
export function main(): void {
  run(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: Error) => {
      process.stderr.write(`portunus: ${error.stack ?? error.message}\n`);
      process.exitCode = ExitCode.FAILED;
    },
  );
}

function version(): string {
  const file = new URL('../../package.json', import.meta.url);
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
}
