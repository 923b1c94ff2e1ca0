/**
 * The types of `require('portunus/worker')`, for TypeScript projects that compile to CommonJS: the same ES
 * module at run time, declared here as index.d.cts explains.
 */
import type * as worker from './dist/worker.js' with { 'resolution-mode': 'import' };

export type * from './dist/worker.js' with { 'resolution-mode': 'import' };

export declare const adoptConnections: typeof worker.adoptConnections;
export declare const proxyHeaderOf: typeof worker.proxyHeaderOf;
export declare const PortunusError: typeof worker.PortunusError;
export type PortunusError = worker.PortunusError;
export declare const isSystemError: typeof worker.isSystemError;
