/**
 * The bootstrap layer's door: how a process finds what its parent gave it: a worker its channel to the
 * master (inheritedChannel), any program its sockets by systemd's socket activation (listenFds), and the
 * parent's side of that (spawnActivated). The other layers import src/bootstrap through this file only.
 * @module
 */
export { CHANNEL_FD_ENV, inheritedChannel } from './worker-channel.js';
export { listenFds, type ActivatedSocket } from './listen-fds.js';
export { NOTIFY_SOCKET_ENV, notifyServiceManager, type ServiceManagerState } from './notify-service-manager.js';
export {
  planActivation,
  spawnActivated,
  spawnWithActivation,
  validateListenFdName,
  type ActivationListener,
  type ActivationPlan,
  type SpawnActivatedOptions,
} from './spawn-activated.js';
