/**
 * The master's side of listener mode 'shared': its one listening socket goes to every worker that takes
 * connections, and each accepts from it itself. The master keeps its copy, so the socket (and its queue)
 * outlives every worker.
 * @module
 */
import { fdBackend } from '../binding/index.js';
import { distributeListenerFd } from '../transport/index.js';
import type { MemberEvents } from './reuseport-members.js';
import type { DispatchWorker, WorkerSet } from './worker-set.js';

/** Shares one listening socket with the workers of a set. */
export class SharedListener {
  readonly #fd: number;
  readonly #pool: WorkerSet;
  readonly #events: MemberEvents;
  /** Workers the listener was sent to (acknowledged or not yet): each gets it once. */
  readonly #holders = new Set<DispatchWorker>();
  readonly #counters = { shared: 0, failed: 0 };
  #closed = false;

  /** Takes ownership of `fd` (closed by close()). */
  constructor(fd: number, pool: WorkerSet, events: MemberEvents) {
    this.#fd = fd;
    this.#pool = pool;
    this.#events = events;
    this.assign();
  }

  get fds(): number[] {
    return this.#closed ? [] : [this.#fd];
  }

  /** Workers that hold the listener now. */
  get adopted(): number {
    this.#forgetGone();
    return this.#holders.size;
  }

  get counters(): { shared: number; failed: number } {
    return { ...this.#counters };
  }

  /** Hands the listener to every worker that takes connections and does not have it yet. */
  assign(): void {
    if (this.#closed) return;
    this.#forgetGone();
    for (const worker of this.#pool.available()) {
      if (this.#holders.has(worker)) continue;
      this.#holders.add(worker);
      distributeListenerFd(worker.channel, this.#fd).then(
        () => {
          this.#counters.shared++;
          this.#events.share(worker);
        },
        (error: Error) => {
          this.#holders.delete(worker);
          this.#counters.failed++;
          this.#events.error(error);
        },
      );
    }
  }

  /** Closes the master's copy; workers that have the socket go on accepting until they drain. */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      fdBackend.close(this.#fd);
    }
    return Promise.resolve();
  }

  /** Workers whose channel closed hold nothing any more. */
  #forgetGone(): void {
    for (const worker of this.#holders) if (worker.channel.isClosed) this.#holders.delete(worker);
  }
}
