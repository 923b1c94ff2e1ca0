/**
 * The master's side of listener mode 'reuseport': one SO_REUSEPORT member per worker slot, each handed to one
 * worker, which accepts from it itself. The master keeps its copy of every member and accepts from each
 * member no worker has adopted (its worker died, is draining or has not acknowledged it yet, or the slot is
 * empty) with the dispatcher's acceptor, handing what it accepts to live workers. So a member's queue never
 * loses its last reader, and no member is closed before `close()`: closing one would reset its queue on
 * kernels without net.ipv4.tcp_migrate_req, and SYNs hashed to it between "drained" and "closed" would be
 * lost. Where the kernel allows it (Linux), new connections are steered to adopted members only, so an empty
 * slot costs no master hop beyond the connections that were already on their way to it.
 * @module
 */
import { fdBackend } from '../binding/index.js';
import { distributeListenerFd } from '../transport/index.js';
import type { Dispatcher } from './accept-and-dispatch.js';
import type { DispatchWorker, WorkerSet } from './worker-set.js';

interface Member {
  /** Its index in the kernel's group (the order the members started listening). */
  readonly index: number;
  readonly fd: number;
  /** The worker it was handed to, until that worker leaves. */
  worker: DispatchWorker | undefined;
  /** That worker acknowledged it and accepts from it: the master does not. */
  adopted: boolean;
  /** Stops watching that worker's channel. */
  unwatch: (() => void) | undefined;
}

/** What the ListenerServer hears from its members. */
export interface MemberEvents {
  share(worker: DispatchWorker): void;
  error(error: Error): void;
}

/** Assigns the members of a reuseport group to the workers of a set; see the module's comment. */
export class ReusePortMembers {
  readonly #members: Member[];
  readonly #pool: WorkerSet;
  readonly #dispatcher: Dispatcher;
  readonly #events: MemberEvents;
  readonly #counters = { shared: 0, failed: 0 };
  /**
   * The adopted members last steered to, as a key ('' for the kernel's own choice); unknown at first: a group
   * taken over from a predecessor may carry its program, so the first assign() always attaches one.
   */
  #steered: string | undefined;
  /** Steering failed once (or the platform has none): the master serves empty slots' share instead. */
  #steeringOff = false;
  #closed = false;

  /** Takes ownership of `fds` (closed by close()); `dispatcher` serves members no worker adopted. */
  constructor(fds: readonly number[], pool: WorkerSet, dispatcher: Dispatcher, events: MemberEvents) {
    this.#pool = pool;
    this.#dispatcher = dispatcher;
    this.#events = events;
    this.#members = fds.map((fd, index) => ({ index, fd, worker: undefined, adopted: false, unwatch: undefined }));
    // Until a worker adopts it, every member is the master's to accept from.
    for (const member of this.#members) dispatcher.serveListener(member.fd);
    this.assign();
  }

  /** Every member's descriptor, in group order. */
  get fds(): number[] {
    return this.#members.map((member) => member.fd);
  }

  /** Members adopted by a worker. */
  get adopted(): number {
    return this.#members.filter((member) => member.adopted).length;
  }

  get counters(): { shared: number; failed: number } {
    return { ...this.#counters };
  }

  /**
   * Takes members back from workers that no longer take connections (draining, exited, channel closed) and
   * hands free members to available workers that have none. Runs on every change of the set ('capacity')
   * and when a holder's channel closes (before its exit is reported).
   */
  assign(): void {
    if (this.#closed) return;
    const available = new Set(this.#pool.available());
    for (const member of this.#members) {
      const worker = member.worker;
      if (worker !== undefined && (!available.has(worker) || worker.channel.isClosed)) this.#takeBack(member);
    }
    const holders = new Set(this.#members.map((member) => member.worker));
    const free = this.#members.filter((member) => member.worker === undefined);
    for (const worker of available) {
      if (holders.has(worker) || worker.channel.isClosed) continue;
      const member = free.shift();
      if (member === undefined) break;
      this.#handTo(member, worker);
    }
    this.#steer();
  }

  /** Stops assigning, lets the dispatcher settle what it accepted, and closes the master's copies. */
  async close(timeoutMs: number | undefined): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      for (const member of this.#members) member.unwatch?.();
    }
    try {
      await this.#dispatcher.close(timeoutMs === undefined ? {} : { timeoutMs });
    } finally {
      // Members a worker holds live on in it until it drains; the others' queues end here, as any
      // listener's does when its server closes.
      for (const member of this.#members.splice(0)) fdBackend.close(member.fd);
    }
  }

  #handTo(member: Member, worker: DispatchWorker): void {
    member.worker = worker;
    member.adopted = false;
    const gone = () => this.assign();
    worker.channel.once('close', gone);
    member.unwatch = () => worker.channel.off('close', gone);
    distributeListenerFd(worker.channel, member.fd).then(
      () => {
        // Taken back meanwhile (the worker left): the master serves it already.
        if (this.#closed || member.worker !== worker) return;
        this.#counters.shared++;
        member.adopted = true;
        this.#dispatcher.stopServing(member.fd);
        this.#steer();
        this.#events.share(worker);
      },
      (error: Error) => {
        this.#counters.failed++;
        // The master goes on serving it; the next change of the set offers it again.
        if (member.worker === worker) this.#takeBack(member);
        if (!this.#closed) this.#events.error(error);
      },
    );
  }

  /** The master accepts from the member again; its worker (if alive) closes its copy as it drains. */
  #takeBack(member: Member): void {
    member.unwatch?.();
    member.unwatch = undefined;
    member.worker = undefined;
    member.adopted = false;
    this.#dispatcher.serveListener(member.fd);
  }

  /**
   * Sends new connections to adopted members only, while some members are not adopted (with all or none
   * adopted, the kernel chooses by hash, as without a program). Connections already queued on an unadopted
   * member, or on their way to it, are still the master's to accept.
   */
  #steer(): void {
    if (this.#closed || this.#steeringOff || this.#members.length === 0) return;
    const adopted = this.#members.filter((member) => member.adopted).map((member) => member.index);
    const targets = adopted.length === this.#members.length ? [] : adopted;
    const key = targets.join(',');
    if (key === this.#steered) return;
    try {
      if (!fdBackend.steerReusePort(this.#members[0]!.fd, targets)) this.#steeringOff = true;
      else this.#steered = key;
    } catch (error) {
      this.#steeringOff = true;
      this.#events.error(error as Error);
    }
  }
}
