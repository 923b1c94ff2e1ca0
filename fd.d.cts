/**
 * The types of `require('portunus/fd')`, for TypeScript projects that compile to CommonJS: the same ES module
 * at run time, declared here as index.d.cts explains.
 */
import type * as fd from './dist/fd.js' with { 'resolution-mode': 'import' };

export type * from './dist/fd.js' with { 'resolution-mode': 'import' };

export declare const describeFd: typeof fd.describeFd;
export declare const closeFd: typeof fd.closeFd;
export declare const dupFd: typeof fd.dupFd;
export declare const peerCredentialsOf: typeof fd.peerCredentialsOf;
export declare const maxFdsPerMessage: typeof fd.maxFdsPerMessage;
