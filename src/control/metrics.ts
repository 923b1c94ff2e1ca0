/**
 * ServeMetrics: what a serving master counts, in the Prometheus text exposition format (version 0.0.4):
 * connections accepted and handed off, handoffs in flight, re-dispatched and dropped, control clients
 * refused, the latency from accept to a worker's acknowledgement as a histogram, workers by state and the
 * pool's size. Counters come from the dispatchers' and the pool's own `stats()` when the text is rendered,
 * so nothing is counted twice; only the latency histogram and the refused control peers are kept here.
 * @module
 */
import type { Dispatcher, ListenerServer } from '../dispatch/index.js';
import { invalidArgument } from '../errors.js';
import { WorkerPool, type WorkerState } from '../pool/index.js';
import { validateInstance, validateObject } from '../validate.js';

/** Upper bounds of the adoption latency buckets, in seconds (from 0.5 ms to 10 s). */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

const WORKER_STATES: readonly WorkerState[] = ['starting', 'ready', 'draining'];

/** What ServeMetrics reads: the pool, and the dispatchers or listener servers in front of it. */
export interface MetricsSources {
  /** The workers. */
  pool: WorkerPool;
  /** Dispatchers (dispatch mode), one per listening address. */
  dispatchers?: readonly Dispatcher[];
  /** Listener servers (shared mode), one per listening address. */
  listeners?: readonly ListenerServer[];
}

/** A latency histogram with fixed buckets, cumulative as Prometheus wants it when rendered. */
class Histogram {
  readonly counts = new Array<number>(LATENCY_BUCKETS.length).fill(0);
  count = 0;
  sum = 0;

  observe(seconds: number): void {
    this.count++;
    this.sum += seconds;
    // Per bucket, not cumulative: the first bucket that holds it; rendering adds them up.
    const index = LATENCY_BUCKETS.findIndex((bound) => seconds <= bound);
    if (index !== -1) this.counts[index]!++;
  }
}

/**
 * Metrics of one serving master (as `portunus serve` runs it). Create it once the dispatchers or listener
 * servers exist: it listens to each dispatcher's `'handoff'` events for the latency histogram.
 */
export class ServeMetrics {
  readonly #sources: MetricsSources;
  /** One for all listeners: the latency is the pool's, whichever address the connection came in on. */
  readonly #latency = new Histogram();
  #refusedPeers = 0;

  /** Reads `sources` (validated: `pool` must be a WorkerPool) each time the metrics are rendered. */
  constructor(sources: MetricsSources) {
    validateObject(sources, 'sources');
    validateInstance(sources.pool, 'sources.pool', WorkerPool, 'a WorkerPool');
    for (const key of ['dispatchers', 'listeners'] as const)
      if (sources[key] !== undefined && !Array.isArray(sources[key]))
        throw invalidArgument(`sources.${key}`, 'an array', sources[key]);
    this.#sources = sources;
    for (const dispatcher of sources.dispatchers ?? [])
      dispatcher.on('handoff', ({ latencyMs }) => this.#latency.observe(latencyMs / 1000));
  }

  /** Counts a control client turned away by its credentials. */
  recordRefusedPeer(): void {
    this.#refusedPeers++;
  }

  /** Control clients turned away so far. */
  get refusedPeers(): number {
    return this.#refusedPeers;
  }

  /** Every metric, in the Prometheus text format. */
  render(): string {
    const out = new MetricWriter();
    const dispatchers = (this.#sources.dispatchers ?? []).map((d) => ({ label: listenerLabel(d), s: d.stats() }));
    const counters = [
      ['portunus_connections_accepted_total', 'Connections accepted by the dispatcher.', 'accepted'],
      ['portunus_handoffs_total', 'Connections a worker adopted and acknowledged.', 'handedOff'],
      [
        'portunus_redispatched_total',
        'Handoffs that failed (worker died or refused) and were sent again.',
        'redispatched',
      ],
      ['portunus_handoffs_refused_total', 'Handoffs a worker refused.', 'refused'],
      ['portunus_dropped_total', 'Connections closed without reaching a worker.', 'dropped'],
      ['portunus_accept_errors_total', 'accept() failures (EMFILE and the like).', 'acceptErrors'],
      ['portunus_ack_timeouts_total', 'Handoffs a worker did not acknowledge in time.', 'ackTimeouts'],
    ] as const;
    for (const [name, help, key] of counters) {
      out.family(name, 'counter', help);
      for (const { label, s } of dispatchers) out.sample(name, { listener: label }, s[key]);
    }
    out.family('portunus_handoffs_in_flight', 'gauge', 'Handoffs sent and not yet acknowledged.');
    for (const { label, s } of dispatchers) out.sample('portunus_handoffs_in_flight', { listener: label }, s.inFlight);
    out.family('portunus_pending_connections', 'gauge', 'Accepted connections waiting for a worker.');
    for (const { label, s } of dispatchers) out.sample('portunus_pending_connections', { listener: label }, s.pending);

    const latency = 'portunus_adoption_latency_seconds';
    if (dispatchers.length > 0) {
      const histogram = this.#latency;
      out.family(latency, 'histogram', 'Time from accept to a worker acknowledging the connection, all listeners.');
      let cumulative = 0;
      LATENCY_BUCKETS.forEach((bound, index) => {
        cumulative += histogram.counts[index]!;
        out.sample(`${latency}_bucket`, { le: String(bound) }, cumulative);
      });
      out.sample(`${latency}_bucket`, { le: '+Inf' }, histogram.count);
      out.sample(`${latency}_sum`, {}, histogram.sum);
      out.sample(`${latency}_count`, {}, histogram.count);
    }

    const listeners = this.#sources.listeners ?? [];
    if (listeners.length > 0) {
      out.family('portunus_listener_shares_total', 'counter', 'Times a shared listener was handed to a worker.');
      for (const server of listeners)
        out.sample('portunus_listener_shares_total', { listener: listenerLabel(server) }, server.stats().shared);
    }

    out.family('portunus_control_refused_peers_total', 'counter', 'Control clients refused by their credentials.');
    out.sample('portunus_control_refused_peers_total', {}, this.#refusedPeers);

    const pool = this.#sources.pool.stats();
    out.family('portunus_workers', 'gauge', 'Worker processes by state.');
    for (const state of WORKER_STATES)
      out.sample('portunus_workers', { state }, pool.workers.filter((w) => w.state === state).length);
    const current = pool.workers.filter(
      (w) => w.generation === pool.generation && (w.state === 'starting' || w.state === 'ready'),
    ).length;
    out.family('portunus_pool_size', 'gauge', 'Workers of the serving generation, starting or ready.');
    out.sample('portunus_pool_size', {}, current);
    out.family('portunus_pool_min', 'gauge', 'Workers kept even when idle.');
    out.sample('portunus_pool_min', {}, pool.min);
    out.family('portunus_pool_max', 'gauge', 'Most workers at once.');
    out.sample('portunus_pool_max', {}, pool.max);
    out.family('portunus_pool_generation', 'gauge', 'The generation taking connections.');
    out.sample('portunus_pool_generation', {}, pool.generation);
    out.family('portunus_workers_spawned_total', 'counter', 'Worker processes started.');
    out.sample('portunus_workers_spawned_total', {}, pool.spawned);
    out.family('portunus_workers_crashed_total', 'counter', 'Worker processes that ended without being asked to.');
    out.sample('portunus_workers_crashed_total', {}, pool.crashed);
    out.family('portunus_restarts_total', 'counter', 'Zero-downtime restarts completed.');
    out.sample('portunus_restarts_total', {}, pool.restarts);
    return out.text();
  }
}

/** host:port (or the Unix socket path) of a dispatcher or listener server, as the `listener` label. */
function listenerLabel(server: { address(): { address: string; port: number; family: string } | string }): string {
  const listening = server.address();
  if (typeof listening === 'string') return listening;
  const { address, port, family } = listening;
  return family === 'IPv6' ? `[${address}]:${port}` : `${address}:${port}`;
}

/** Writes families (HELP and TYPE lines) and samples, escaping as the text format requires. */
class MetricWriter {
  readonly #lines: string[] = [];

  family(name: string, type: 'counter' | 'gauge' | 'histogram', help: string): void {
    this.#lines.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${type}`);
  }

  sample(name: string, labels: Record<string, string>, value: number): void {
    const pairs = Object.entries(labels).map(
      ([key, text]) => `${key}="${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`,
    );
    this.#lines.push(`${name}${pairs.length > 0 ? `{${pairs.join(',')}}` : ''} ${formatValue(value)}`);
  }

  text(): string {
    return `${this.#lines.join('\n')}\n`;
  }
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}
