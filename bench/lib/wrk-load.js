// Runs wrk against a loopback port and reads back what it reports. Bounded: wrk stops itself after its
// duration, and is killed if it has not exited 20 s later.
import { execFile } from 'node:child_process';

/**
 * One wrk run: `conns` connections on one thread for `seconds`, each request on a new connection when
 * `close` is set (Connection: close), keep-alive otherwise.
 */
export function runWrk({ port, seconds, conns, close }) {
  const args = ['-t1', `-c${conns}`, `-d${seconds}s`, `--timeout`, '2s'];
  if (close) args.push('-H', 'Connection: close');
  args.push(`http://127.0.0.1:${port}/`);
  return new Promise((resolve, reject) => {
    execFile('wrk', args, { timeout: (seconds + 20) * 1000, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`wrk failed: ${error.message}\n${stderr}`));
      resolve(parseWrk(stdout));
    });
  });
}

function parseWrk(text) {
  const number = (pattern) => {
    const match = pattern.exec(text);
    return match ? Number(match[1]) : 0;
  };
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  return {
    rps: number(/Requests\/sec:\s+([\d.]+)/),
    requests: number(/(\d+) requests in/),
    seconds: number(/requests in ([\d.]+)s/),
    errors: socketErrors ? socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
    non2xx: number(/Non-2xx or 3xx responses: (\d+)/),
    raw: text,
  };
}

/** wrk's version line, or undefined when wrk is not installed. */
export function wrkVersion() {
  return new Promise((resolve) => {
    execFile('wrk', ['--version'], { timeout: 5000 }, (error, stdout, stderr) => {
      const line = `${stdout}${stderr}`.split('\n')[0];
      resolve(line.startsWith('wrk') ? line.trim() : undefined);
    });
  });
}
