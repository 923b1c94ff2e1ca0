/**
 * The listener modes of `portunus serve`, one row each: which library call serves the listeners in front of
 * the pool. A mode another part of portunus has not delivered yet has no `start` and is refused with a clear
 * message; wiring it is one row here.
 * @module
 */
import {
  acceptAndDispatch,
  serveListeners,
  type Dispatcher,
  type ExistingReusePortGroup,
  type ListenerServer,
} from '../dispatch/index.js';
import type net from 'node:net';
import type { WorkerPool } from '../pool/index.js';

export const MODE_NAMES = ['dispatch', 'shared', 'reuseport', 'inherit'] as const;
export type ModeName = (typeof MODE_NAMES)[number];

/** What a mode started: the dispatchers or listener servers, one per TCP address. */
export interface Serving {
  dispatchers: Dispatcher[];
  listeners: ListenerServer[];
}

interface Mode {
  /** One-line description for --help. */
  summary: string;
  /** Fewest workers the mode needs at any time (nobody accepts in shared mode without one). */
  minWorkers: number;
  /** True when the mode serves only one address (an inherit pool gets its listeners once, before it starts). */
  oneAddress?: boolean;
  /** True when its listeners are handed to a new master as a reuseport group per address (name#0…). */
  group?: boolean;
  /** True when it cannot listen on a Unix socket path (a SO_REUSEPORT group is TCP). */
  tcpOnly?: boolean;
  /**
   * Serves one address (TCP or a Unix path), or a listening socket taken over (`{ fd }`, or `{ fds }` for a
   * reuseport group), in front of `pool`; absent when the mode is not in this build.
   */
  start?: (listen: net.ListenOptions | ExistingReusePortGroup, pool: WorkerPool) => Promise<Partial<Serving>>;
}

export const MODES: Readonly<Record<ModeName, Mode>> = {
  dispatch: {
    summary: 'the master accepts and hands each connection to a worker (workers call adoptConnections)',
    minWorkers: 0,
    start: async (listen, pool) => ({
      dispatchers: [await acceptAndDispatch({ listen: listen as net.ListenOptions, pool })],
    }),
  },
  shared: {
    summary: "every worker accepts from the master's listening socket (workers call adoptConnections)",
    minWorkers: 1,
    start: async (listen, pool) => ({
      listeners: [await serveListeners({ listen: listen as net.ListenOptions, pool, mode: 'shared' })],
    }),
  },
  reuseport: {
    group: true,
    tcpOnly: true,
    summary: 'one SO_REUSEPORT listener per worker, kept by the master across restarts',
    minWorkers: 1,
    start: async (listen, pool) => ({ listeners: [await serveListeners({ listen, pool, mode: 'reuseport' })] }),
  },
  inherit: {
    summary: 'workers in any language get the listener as LISTEN_FDS, the systemd way (one --listen)',
    minWorkers: 1,
    oneAddress: true,
    start: async (listen, pool) => ({
      listeners: [await serveListeners({ listen: listen as net.ListenOptions, pool, mode: 'inherit' })],
    }),
  },
};
