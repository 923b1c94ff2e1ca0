/**
 * The listener modes of `portunus serve`, one row each: which library call serves the listeners in front of
 * the pool. A mode another part of portunus has not delivered yet has no `start` and is refused with a clear
 * message; wiring it is one row here.
 * @module
 */
import { acceptAndDispatch, serveListeners, type Dispatcher, type ListenerServer } from '../dispatch/index.js';
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
  /** False when its listeners cannot be handed to a new master as one socket per address (reuseport). */
  upgradable: boolean;
  /**
   * Serves one TCP address (or a listening socket taken over, `{ fd }`) in front of `pool`; absent when the
   * mode is not in this build.
   */
  start?: (listen: net.ListenOptions, pool: WorkerPool) => Promise<Partial<Serving>>;
}

export const MODES: Readonly<Record<ModeName, Mode>> = {
  dispatch: {
    upgradable: true,
    summary: 'the master accepts and hands each connection to a worker (workers call adoptConnections)',
    minWorkers: 0,
    start: async (listen, pool) => ({ dispatchers: [await acceptAndDispatch({ listen, pool })] }),
  },
  shared: {
    upgradable: true,
    summary: "every worker accepts from the master's listening socket (workers call adoptConnections)",
    minWorkers: 1,
    start: async (listen, pool) => ({ listeners: [await serveListeners({ listen, pool, mode: 'shared' })] }),
  },
  reuseport: {
    upgradable: false,
    summary: 'one SO_REUSEPORT listener per worker, kept by the master across restarts',
    minWorkers: 1,
    start: async (listen, pool) => ({ listeners: [await serveListeners({ listen, pool, mode: 'reuseport' })] }),
  },
  inherit: {
    upgradable: true,
    summary: 'workers in any language get the listener as LISTEN_FDS, the systemd way (one --listen)',
    minWorkers: 1,
    oneAddress: true,
    start: async (listen, pool) => ({ listeners: [await serveListeners({ listen, pool, mode: 'inherit' })] }),
  },
};
