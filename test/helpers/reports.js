// Collects what a peer sends on a channel so that a test can wait for it by name: JSON messages become
// reports ({ event, ... }) and anything else a { event: 'raw', payload } report, both kept in arrival
// order. Descriptors are never taken here, so the channel closes any that arrive.
import { within, STEP_MS } from './within.js';

export class Reports {
  #reports = [];
  #waiters = new Set();

  constructor(channel) {
    channel.on('message', (message) => this.#push(parse(message.payload)));
  }

  #push(report) {
    this.#reports.push(report);
    for (const waiter of [...this.#waiters]) waiter();
  }

  /** Resolves with (and consumes) the first report of `event` that `filter` accepts, past or future. */
  take(event, filter = () => true, ms = STEP_MS) {
    let check;
    const found = new Promise((resolve) => {
      check = () => {
        const index = this.#reports.findIndex((report) => report.event === event && filter(report));
        if (index === -1) return;
        this.#waiters.delete(check);
        resolve(this.#reports.splice(index, 1)[0]);
      };
      this.#waiters.add(check);
      check();
    });
    return within(found, `a '${event}' report from the peer`, ms).finally(() => this.#waiters.delete(check));
  }

  /** Resolves with (and consumes) the next `count` reports of `event`, in arrival order. */
  async takeMany(event, count, ms = STEP_MS) {
    let check;
    const enough = new Promise((resolve) => {
      check = () => {
        if (this.#reports.filter((report) => report.event === event).length < count) return;
        this.#waiters.delete(check);
        const taken = [];
        this.#reports = this.#reports.filter((report) => {
          if (report.event !== event || taken.length === count) return true;
          taken.push(report);
          return false;
        });
        resolve(taken);
      };
      this.#waiters.add(check);
      check();
    });
    return within(enough, `${count} '${event}' reports from the peer`, ms).finally(() => this.#waiters.delete(check));
  }
}

function parse(payload) {
  if (payload.length > 0 && payload[0] === 0x7b) {
    try {
      const report = JSON.parse(payload.toString('utf8'));
      if (typeof report === 'object' && report !== null && typeof report.event === 'string') return report;
    } catch {
      // Not JSON after all: a raw payload.
    }
  }
  return { event: 'raw', payload };
}
