// The security descriptor of a channel's named pipe, read back from the kernel object (GetSecurityInfo on a
// client's handle): owner this user, a protected DACL (no inherited entries) that allows this user and each
// SID of `options.users`, nobody else. Under wine every process of a prefix runs as one user, so this shows
// what the descriptor says, not that Windows refuses another user: docs/windows.md.
import { listenChannel } from '../../dist/index.js';
import { nativeAddon } from '../../dist/binding/native.js';
import { handlesBackTo, handlesNow, pipeName } from './helpers.mjs';

export { warmUp } from './helpers.mjs';

// A domain user's SID that no alias abbreviates in SDDL (as S-1-5-32-545 would become "BU").
const SECOND_SID = 'S-1-5-21-1111111111-2222222222-3333333333-1001';

/** The allow entries of a descriptor's DACL, as [rights, sid] pairs. */
function allowed(descriptor) {
  const dacl = descriptor.slice(descriptor.indexOf('D:'));
  return [...dacl.matchAll(/\(A;;([^;]*);;;([^)]*)\)/g)].map((match) => [match[1], match[2]]);
}

/** The pipe's descriptor in SDDL, through a client handle of it (the listener's handle is portunus's own). */
function descriptorOf(name) {
  const addon = nativeAddon();
  const client = addon.connectPipe(name, []);
  try {
    return addon.securityDescriptor(client);
  } finally {
    addon.close(client);
  }
}

export const tests = [
  {
    name: 'the pipe admits this user only by default, and a second SID given in options.users',
    async run(t) {
      const before = handlesNow();
      const me = nativeAddon().currentUser();
      const own = await listenChannel(pipeName('sd-own'));
      const ownDescriptor = descriptorOf(own.path);
      t.match(ownDescriptor, new RegExp(`^O:${me}`));
      t.match(ownDescriptor, /D:P/, `a protected DACL: ${ownDescriptor}`);
      t.deepEqual(
        allowed(ownDescriptor).map(([, sid]) => sid),
        [me],
        ownDescriptor,
      );
      await own.close();

      const shared = await listenChannel(pipeName('sd-second'), { users: [SECOND_SID] });
      const sharedDescriptor = descriptorOf(shared.path);
      t.match(sharedDescriptor, new RegExp(`^O:${me}`));
      t.deepEqual(
        allowed(sharedDescriptor).map(([, sid]) => sid),
        [me, SECOND_SID],
        sharedDescriptor,
      );
      // Both with the same rights.
      const rights = allowed(sharedDescriptor).map(([right]) => right);
      t.equal(rights[0], rights[1]);
      await shared.close();
      await handlesBackTo(t, before);
    },
  },
];
