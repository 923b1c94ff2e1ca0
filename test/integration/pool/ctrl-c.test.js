// Ctrl-C under load drops nothing: the terminal sends SIGINT to the whole foreground process group, but the
// workers run in groups of their own, so only the master hears it; shutdownOnSignals() then closes the
// dispatcher, drains the pool (each worker finishes the requests it has) and exits 0.
import { spawn } from 'node:child_process';
import readline from 'node:readline';
import test from 'ava';
import { fixture, request, within } from '../../helpers/http-load.js';

test.serial(
  'SIGINT to the whole process group while requests are in progress: every one is answered, the master exits 0',
  async (t) => {
    // detached: the master leads a process group of its own, as a shell's foreground job does.
    const master = spawn(process.execPath, [fixture('master-shutdown-on-signals.js')], {
      detached: true,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise((resolve) => master.once('exit', (code, signal) => resolve({ code, signal })));
    t.teardown(() => {
      try {
        process.kill(-master.pid, 'SIGKILL');
      } catch {}
    });
    const events = [];
    const waiters = [];
    readline.createInterface({ input: master.stdout }).on('line', (line) => {
      events.push(JSON.parse(line));
      for (const waiter of waiters) waiter();
    });
    const until = (predicate, what) =>
      within(
        new Promise((resolve) => {
          const check = () => predicate() && resolve();
          waiters.push(check);
          check();
        }),
        what,
        15_000,
      );

    await until(() => events.some((e) => e.event === 'listening'), 'the master to listen');
    const { port } = events.find((e) => e.event === 'listening');
    const workerPids = events.filter((e) => e.event === 'spawn').map((e) => e.pid);
    t.is(workerPids.length, 2);

    // Twenty requests that each take 1.5 s: all are being served when the signal comes.
    const total = 20;
    const answers = Array.from({ length: total }, () =>
      request(port, { path: '/?hold=1500', timeoutMs: 15_000 }).then(
        (answer) => answer.status,
        (error) => error.message,
      ),
    );
    await until(
      () => events.filter((e) => e.event === 'handoff').length === total,
      'every connection to reach a worker',
    );
    process.kill(-master.pid, 'SIGINT');

    t.deepEqual(await within(Promise.all(answers), 'the answers', 15_000), Array(total).fill(200));
    t.deepEqual(await within(exited, 'the master to exit', 15_000), { code: 0, signal: null });
    t.true(events.some((e) => e.event === 'signal' && e.signal === 'SIGINT'));
    for (const pid of workerPids) t.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `worker ${pid} is gone`);
  },
);
