/**
 * The frames a dispatching master and its workers exchange besides the transports themselves
 * (docs/protocol.md, "Worker frames"): READY once the worker adopts connections, LOAD whenever its number
 * of open connections changes, DRAIN when the master wants it to finish and exit.
 * @module
 */
/** Frame types between a dispatching master and its workers: READY, LOAD, DRAIN. */
export const WorkerFrame = {
  /** worker -> master. JSON { pid }. */
  READY: 0x20,
  /** worker -> master. u32 big-endian: connections the worker has open. */
  LOAD: 0x21,
  /** master -> worker. JSON { timeoutMs }: take nothing new, finish what is open, exit. */
  DRAIN: 0x22,
} as const;

export function encodeLoad(open: number): Buffer {
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32BE(Math.min(open, 0xffffffff) >>> 0);
  return payload;
}

export function decodeLoad(payload: Buffer): number | undefined {
  return payload.length === 4 ? payload.readUInt32BE(0) : undefined;
}
