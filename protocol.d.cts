/**
 * The types of `require('portunus/protocol')`, for TypeScript projects that compile to CommonJS: the same ES
 * module at run time, declared here as index.d.cts explains.
 */
import type * as protocol from './dist/protocol.js' with { 'resolution-mode': 'import' };

export type * from './dist/protocol.js' with { 'resolution-mode': 'import' };

export declare const FrameType: typeof protocol.FrameType;
export declare const TransportFrame: typeof protocol.TransportFrame;
export declare const WorkerFrame: typeof protocol.WorkerFrame;
export declare const MAX_FDS_PER_FRAME: typeof protocol.MAX_FDS_PER_FRAME;
export declare const PROTOCOL_VERSION: typeof protocol.PROTOCOL_VERSION;
export declare const HEADER_SIZE: typeof protocol.HEADER_SIZE;
export declare const CHANNEL_FD_ENV: typeof protocol.CHANNEL_FD_ENV;
