// PortunusError is recognised across installed copies of portunus: a second copy of the module (as when two
// dependencies each bring their own) makes a second class, and instanceof must accept errors of both.
import test from 'ava';
import { PortunusError } from '../../dist/index.js';

test('an error of another copy of the errors module is a PortunusError; other errors are not', async (t) => {
  const copy = await import(`../../dist/errors.js?copy=${Date.now()}`);
  t.not(copy.PortunusError, PortunusError, 'the query string loaded a second copy');
  const foreign = new copy.PortunusError('ERR_PORTUNUS_REMOTE', 'from the other copy');
  t.true(foreign instanceof PortunusError);
  t.true(new PortunusError('ERR_PORTUNUS_REMOTE', 'ours') instanceof copy.PortunusError);
  t.false(new Error('plain') instanceof PortunusError);
  t.false(Object.assign(new Error('look-alike'), { code: 'ERR_PORTUNUS_REMOTE' }) instanceof PortunusError);
  t.false(null instanceof PortunusError);
  // The brand is not enumerable: it does not show in logs or JSON.
  t.deepEqual(Object.keys(foreign).sort(), ['code', 'name']);
  t.true(foreign instanceof Error);
});
