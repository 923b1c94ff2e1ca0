// `portunus serve` under systemd with Type=notify, against a stand-in for systemd's notification socket (a
// Python Unix datagram socket with SO_PASSCRED: the kernel names each sender, as systemd reads it): READY=1
// from the master once it serves; on an upgrade, MAINPID= naming the new master from the old one (which
// systemd otherwise takes, on its exit, for the service's end) and from the new one; STOPPING=1 only from
// the master that really stops, never from one that handed over; and nothing from the workers, whose
// environment has no NOTIFY_SOCKET. (No systemd runs here as process 1: the socket's side is Python's.)
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { assertNoFdLeak, openFdCount } from '../../helpers/fd-count.js';
import { fixture, runLoad, waitFor } from '../../helpers/http-load.js';
import { findPython, startPythonPeer } from '../../helpers/python-peer.js';
import { alive, ctlJson, socketDir, startServe } from '../../helpers/serve-cli.js';
import { within } from '../../helpers/within.js';

const python = findPython('import socket; socket.SO_PASSCRED');

/** The first message from `pid` that has `field`, once it has arrived. */
function messageFrom(peer, pid, field) {
  const find = () =>
    peer.events.find((event) => event.event === 'message' && event.pid === pid && event.fields[field] !== undefined);
  return waitFor(() => find() !== undefined, `${field} from process ${pid}`, 30_000).then(find);
}

(python === undefined ? test.serial.skip : test.serial)(
  'READY=1 once serving, MAINPID= handed to the new master on upgrade, STOPPING=1 from the last one only',
  async (t) => {
    const before = openFdCount();
    const notifySocket = path.join(socketDir(t), 'notify.sock');
    const manager = startPythonPeer(t, python, [fixture('python-notify-socket.py'), notifySocket]);
    await manager.event('bound');
    const serve = await startServe(t, {
      args: ['--min', '2'],
      command: [process.execPath, fixture('worker-http.js')],
      env: { NOTIFY_SOCKET: notifySocket },
    });
    const first = serve.child.pid;
    const ready = await messageFrom(manager, first, 'READY');
    t.is(ready.fields.READY, '1');
    t.regex(ready.fields.STATUS, /^serving tcp:\/\/127\.0\.0\.1:0 in dispatch mode$/);
    t.is(ready.uid, process.getuid());
    for (const worker of (await ctlJson(t, serve.socket, 'workers')).workers) {
      const environment = fs.readFileSync(`/proc/${worker.pid}/environ`, 'utf8').split('\0');
      t.false(
        environment.some((entry) => entry.startsWith('NOTIFY_SOCKET=')),
        `worker ${worker.pid} has no NOTIFY_SOCKET`,
      );
    }

    let upgraded = false;
    const load = runLoad(serve.port, { until: () => upgraded, concurrency: 4 });
    const successor = (await ctlJson(t, serve.socket, 'upgrade')).upgraded.pid;
    t.teardown(() => alive(successor) && process.kill(successor, 'SIGKILL'));
    // The old master names the new one while it still is the main process; the new one names itself.
    t.is((await messageFrom(manager, first, 'MAINPID')).fields.MAINPID, String(successor));
    const second = await messageFrom(manager, successor, 'READY');
    t.like(second.fields, { MAINPID: String(successor), READY: '1' });
    t.deepEqual(await within(serve.exited, 'the old master to exit', 30_000), { code: 0, signal: null });
    upgraded = true;
    const during = await load;
    t.is(during.failed, 0, during.errors.join('; '));

    process.kill(successor, 'SIGTERM');
    t.regex((await messageFrom(manager, successor, 'STOPPING')).fields.STATUS, /^draining \(SIGTERM\)$/);
    await waitFor(() => !alive(successor), 'the new master to exit', 30_000);
    // Nobody else spoke: not the old master once it had handed over, not a worker.
    const senders = new Set(manager.events.filter((event) => event.event === 'message').map((event) => event.pid));
    t.deepEqual([...senders].sort(), [first, successor].sort());
    t.false(
      manager.events.some((event) => event.pid === first && event.fields?.STOPPING !== undefined),
      'the old master never said STOPPING=1',
    );
    manager.child.kill('SIGKILL');
    await manager.exited();
    await assertNoFdLeak(t, before);
  },
);
