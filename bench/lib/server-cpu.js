// CPU time of server processes, exact to the nanosecond: the sum of sum_exec_runtime (the first field of
// /proc/PID/task/TID/schedstat) over every thread, rather than utime/stime, which advance in 10 ms ticks.
import fs from 'node:fs';

/** CPU nanoseconds used so far by one process, all threads; 0 once it is gone. */
export function processCpuNs(pid) {
  let total = 0;
  let tids;
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return 0;
  }
  for (const tid of tids) {
    try {
      total += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ', 1)[0]);
    } catch {
      // The thread ended between readdir and read.
    }
  }
  return total;
}

/** CPU nanoseconds of the master and of its workers (summed), now. */
export function serverCpuNs(server) {
  let workers = 0;
  for (const pid of server.workers) workers += processCpuNs(pid);
  return { master: processCpuNs(server.pid), workers };
}

/** Whether this kernel exposes schedstat (CONFIG_SCHEDSTATS / CONFIG_SCHED_INFO). */
export function schedstatAvailable() {
  return fs.existsSync(`/proc/${process.pid}/task/${process.pid}/schedstat`);
}
