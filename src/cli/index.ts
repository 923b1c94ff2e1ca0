/**
 * The cli layer's door: the `portunus` command line (serve, ctl). bin/portunus runs main(); nothing else
 * imports this layer.
 * @module
 */
export { main, run } from './main.js';
export { ExitCode } from './exit-codes.js';
