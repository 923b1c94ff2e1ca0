// CPU used during a measurement by processes that are not part of it (another benchmark, a build, an
// editor's language server), so that a disturbed run is visible in the results instead of silently skewing
// them. Counts every user-space process except this one, its children (the load generator, the latency
// probe) and the server's processes; kernel threads are left out, since they do the loopback traffic's
// work for the benchmark itself. A process that starts and ends between two snapshots is missed.
import fs from 'node:fs';
import { processCpuNs } from './server-cpu.js';

/** CPU nanoseconds so far of every process outside the benchmark, by pid. */
export function foreignSnapshot(server) {
  const mine = new Set([process.pid, server.pid, ...server.workers]);
  const cpu = new Map();
  for (const entry of fs.readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || mine.has(pid)) continue;
    let stat;
    try {
      stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue;
    }
    // After "pid (comm) ": state, ppid, ...; flags is field 9 (PF_KTHREAD = 0x00200000).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(fields[1]);
    const kernelThread = (Number(fields[6]) & 0x00200000) !== 0;
    if (kernelThread || ppid === process.pid || mine.has(ppid)) continue;
    cpu.set(pid, processCpuNs(pid));
  }
  return { cpu, at: process.hrtime.bigint() };
}

/** CPU used by outside processes between two snapshots, as % of one core. */
export function foreignCpuPercent(before, after) {
  let ns = 0;
  for (const [pid, total] of after.cpu) ns += total - (before.cpu.get(pid) ?? 0);
  return (100 * ns) / Number(after.at - before.at);
}
