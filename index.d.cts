/**
 * The types of `require('portunus')`, for TypeScript projects that compile to CommonJS.
 *
 * At run time require() loads the same ES module files as import (Node 20.19+ and 22.12+ can require() an
 * ES module that has no top-level await) and returns their namespace object: there is one copy of the
 * module state, so an error from either side is `instanceof PortunusError` on both. This file only tells
 * TypeScript so. Under `module: node16` TypeScript refuses to let a CommonJS file import an ES module's
 * declarations (TS1479) even where Node allows the require(), but it does allow type-only references with
 * `resolution-mode: import`. So every type comes from the ES module's own declarations (one set of types,
 * whichever way a project loads portunus), and each value is declared here as having the type of the ES
 * module's export. test/integration/require-entry.test.js checks that every runtime export is declared.
 */
import type * as portunus from './dist/index.js' with { 'resolution-mode': 'import' };

export type * from './dist/index.js' with { 'resolution-mode': 'import' };

// Classes: the value (constructor) and the instance type.
export declare const PortunusError: typeof portunus.PortunusError;
export type PortunusError = portunus.PortunusError;
export declare const Channel: typeof portunus.Channel;
export type Channel = portunus.Channel;
export declare const WorkerPool: typeof portunus.WorkerPool;
export type WorkerPool = portunus.WorkerPool;
export declare const ServiceRegistry: typeof portunus.ServiceRegistry;
export type ServiceRegistry = portunus.ServiceRegistry;
export declare const ServeMetrics: typeof portunus.ServeMetrics;
export type ServeMetrics = portunus.ServeMetrics;

// Functions.
export declare const isSystemError: typeof portunus.isSystemError;
export declare const channelPair: typeof portunus.channelPair;
export declare const channelFromFd: typeof portunus.channelFromFd;
export declare const socketPairForChild: typeof portunus.socketPairForChild;
export declare const nodeIpcChannel: typeof portunus.nodeIpcChannel;
export declare const connectChannel: typeof portunus.connectChannel;
export declare const listenChannel: typeof portunus.listenChannel;
export declare const inheritedChannel: typeof portunus.inheritedChannel;
export declare const listenFds: typeof portunus.listenFds;
export declare const spawnActivated: typeof portunus.spawnActivated;
export declare const notifyServiceManager: typeof portunus.notifyServiceManager;
export declare const distributeTransport: typeof portunus.distributeTransport;
export declare const adoptTransport: typeof portunus.adoptTransport;
export declare const acceptAndDispatch: typeof portunus.acceptAndDispatch;
export declare const adoptConnections: typeof portunus.adoptConnections;
export declare const serveListeners: typeof portunus.serveListeners;
export declare const shutdownOnSignals: typeof portunus.shutdownOnSignals;
export declare const proxyHeaderOf: typeof portunus.proxyHeaderOf;
export declare const serveRouter: typeof portunus.serveRouter;
export declare const openServiceRegistry: typeof portunus.openServiceRegistry;
export declare const registerService: typeof portunus.registerService;
export declare const serveTcpmux: typeof portunus.serveTcpmux;
export declare const connectTcpmux: typeof portunus.connectTcpmux;
export declare const listTcpmuxServices: typeof portunus.listTcpmuxServices;
export declare const listenControl: typeof portunus.listenControl;
export declare const requestControl: typeof portunus.requestControl;
export declare const listenMetrics: typeof portunus.listenMetrics;
export declare const offerListeners: typeof portunus.offerListeners;
export declare const takeListeners: typeof portunus.takeListeners;
