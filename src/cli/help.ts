/**
 * The --help texts of `portunus` and its commands. Written for a person at a terminal; docs/cli.md says the
 * same at more length.
 * @module
 */
import { MODES, MODE_NAMES } from './modes.js';

export const MAIN_HELP = `Usage: portunus <command> [options]

Commands:
  serve   own the listening ports and run a pool of workers behind them
  ctl     steer a running \`portunus serve\` through its control socket
  mux     serve registered services by name on one TCP port (TCPMUX, RFC 1078)

Run \`portunus <command> --help\` for a command's options.

Options:
  -h, --help     this text
  -v, --version  the version of portunus

Exit codes: 0 done, 1 failed, 2 wrong usage, 3 ctl could not reach a master.
`;

export function serveHelp(): string {
  const modes = MODE_NAMES.map(
    (name) =>
      `    ${name.padEnd(10)}${MODES[name].summary}${MODES[name].start === undefined ? ' (not available in this build)' : ''}`,
  ).join('\n');
  return `Usage: portunus serve --listen ADDRESS [options] -- COMMAND [ARGS...]

Listens on ADDRESS and runs COMMAND as worker processes behind it. Node workers call
adoptConnections(server) from portunus.

Options:
  --listen ADDRESS       tcp://HOST:PORT (tcp://[::1]:8080 for IPv6); repeat for several.
                         unix:/PATH is parsed, but no mode of this build listens on Unix sockets yet
  --mode MODE            how the listeners are served (default dispatch):
${modes}
  --min N                workers kept even when idle; 0 starts none until the first connection,
                         which waits for the first worker (default 1)
  --max N                most workers at once (default: the number of CPUs)
  --high-water N         open connections per worker above which another starts (default 64)
  --idle-timeout S       a worker idle this many seconds retires, down to --min (default 30)
  --drain-timeout S      how long a draining worker may take before SIGTERM (default 30)
  --metrics HOST:PORT    serve Prometheus metrics at http://HOST:PORT/metrics
  --socket PATH          control socket (default $XDG_RUNTIME_DIR/portunus/control.sock,
                         else $TMPDIR/portunus-UID/control.sock); 0600 in a 0700 directory
  --allow-uid UID        let this uid use the control socket too (repeatable; default: own uid only)
  --takeover-from PATH   take the listeners over from the daemon offering them at PATH (an upgrade
                         starts the new master so; see SIGUSR2)
  --log-format FORMAT    text (a status line on a terminal, plain lines otherwise) or json
  --config FILE          a JSON file with the same settings: listen, mode, min, max, highWater,
                         idleTimeout, drainTimeout, metrics, socket, allowUid, logFormat, command;
                         flags given on the command line win
  -h, --help             this text

Signals: SIGTERM or SIGINT drain the workers and exit 0; SIGHUP restarts the workers without
dropping a connection; SIGUSR2 hands the listeners to a new master started with the same
arguments (as \`portunus ctl upgrade\`); the old one then drains and exits 0.

Exit codes: 0 drained after SIGTERM/SIGINT, 1 could not start or close, 2 wrong usage or config.

Example:
  portunus serve --listen tcp://127.0.0.1:8080 --min 0 --max 8 -- node app.js
`;
}

export const CTL_HELP = `Usage: portunus ctl [--socket PATH] [--json] [--timeout S] COMMAND [N]

Commands:
  restart-workers   start a new generation, move connections to it, drain the old one
  spawn-workers N   start N more workers now and keep them (min rises), up to --max
  remove-workers N  drain N workers, idlest first (min falls to what is left)
  workers           every worker: id, pid, generation, state, open connections, in flight
  stats             the pool's and dispatchers' counters (--json for JSON)
  metrics           the metrics in the Prometheus text format
  upgrade           hand the listeners to a new master (as SIGUSR2); waits until it took over

Options:
  --socket PATH  the master's control socket (default as for \`portunus serve\`)
  --json         print the answer as JSON
  --timeout S    how long to wait for the answer (default 60: a restart waits for new workers)
  -h, --help     this text

Exit codes: 0 done, 1 the master answered with an error, 2 wrong usage,
3 no master reachable (no socket, permission denied, refused by credentials, no answer).
`;

export const MUX_HELP = `Usage: portunus mux --listen tcp://HOST:PORT [options]

Serves TCPMUX (RFC 1078) on the port: a client sends a service name and CRLF and gets the process
registered for that name on the same connection (+), the list for HELP, or - with a reason. Processes
register with registerService(name, server, { registry: PATH }) from portunus.

Options:
  --listen ADDRESS     tcp://HOST:PORT (tcp://[::1]:1 for IPv6; RFC 1078's port is 1)
  --registry PATH      the registry socket (default: mux.sock beside the default control socket,
                       $XDG_RUNTIME_DIR/portunus/ or $TMPDIR/portunus-UID/); 0600 in a 0700 directory
  --allow-uid UID      let processes of this uid register (repeatable; default: own uid only)
  --share-names        let processes of different uids share a name (default: the first uid holds it)
  --name-timeout S     how long a client may take to send its name line (default 5)
  --proxy-protocol     every connection starts with a PROXY v1/v2 header (behind HAProxy send-proxy)
  --log-format FORMAT  text or json (default text), on stderr
  -h, --help           this text

Signals: SIGTERM or SIGINT close the port and the registry and exit 0.

Exit codes: 0 stopped after SIGTERM/SIGINT, 1 could not start, 2 wrong usage.

Example:
  portunus mux --listen tcp://127.0.0.1:7001 --registry /run/myapp/mux.sock
`;
