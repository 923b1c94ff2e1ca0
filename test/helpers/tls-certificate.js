// Throwaway self-signed certificates made by the openssl CLI for one test run, one host name each.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * A key and a self-signed certificate for `host` (CN and subjectAltName), in a directory of their own that
 * `remove()` deletes (tests call it at teardown).
 */
export function makeCertificate(host) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portunus-tls-'));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${host}`,
      '-addext',
      `subjectAltName=DNS:${host}`,
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  return { key, cert, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
