/**
 * The service registry: which processes serve which service name. Each name is a {@link ServiceSet}, a
 * WorkerSet over the processes registered for it, so anything that hands connections to worker sets can
 * hand them to a registered service: the tcpmux server does, and the dispatcher can (`acceptAndDispatch()`
 * with a set as a group, `route()` choosing it by name).
 *
 * The registry is deliberately small. It decides who may register what (the policy), keeps each
 * registrant until its channel closes, and answers lookups. It does not listen anywhere:
 * `openServiceRegistry()` (open-service-registry.ts) accepts registration channels and feeds them in here.
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import type { PeerCredentials } from '../binding/index.js';
import type { Channel } from '../channel/index.js';
import type { DispatchWorker, WorkerSet, WorkerSetEvents } from '../dispatch/index.js';
import { PortunusError, invalidArgument } from '../errors.js';
import { validateBoolean, validateInteger, validateOptions } from '../validate.js';
import { HELP, normaliseServiceName, validateServiceName } from './service-name.js';

/**
 * Which uids may register which service names: a table from name to uids (names not in it cannot be
 * registered), or a predicate over the name (in lower case) and the registrant's kernel-recorded credentials.
 */
export type RegistrationPolicy =
  Readonly<Record<string, readonly number[]>> | ((name: string, credentials: PeerCredentials) => boolean);

/** Options of a {@link ServiceRegistry}. */
export interface ServiceRegistryOptions {
  /**
   * Which uids may register which names. Default: any name, by any process allowed to connect (which, by
   * default, is only this process's own uid).
   */
  names?: RegistrationPolicy;
  /**
   * Let processes of different uids register the same name (and share its connections). Default false: the
   * first uid to register a name holds it until its last registrant is gone, and others are refused.
   */
  shareAcrossUids?: boolean;
  /** Most unacknowledged handoffs per registrant. Default 64. */
  maxInFlight?: number;
}

/** Events of a {@link ServiceRegistry}, with their listener arguments. */
export interface ServiceRegistryEvents {
  /** A process registered a name. */
  register: [registrant: Registrant];
  /** A registrant is gone (its channel closed); connections it had not acknowledged go elsewhere. */
  unregister: [registrant: Registrant];
}

/** One registered process serving one name: a DispatchWorker of that name's {@link ServiceSet}. */
export class Registrant implements DispatchWorker {
  /** Stable id, unique within the registry. */
  readonly id: number;
  /** The registered name, in lower case. */
  readonly name: string;
  /** The registration channel: connections for the name are handed over on it. */
  readonly channel: Channel;
  /** The registrant's kernel-recorded credentials (SO_PEERCRED), as its channel was accepted. */
  readonly credentials: PeerCredentials;
  /** Registrants do not report their open connections: always 0 (handoffs in flight are `inFlight`). */
  readonly load = 0;
  /** Handoffs sent to it and not yet acknowledged. */
  inFlight = 0;
  /** Handoffs it acknowledged. */
  handedOff = 0;

  /** @internal Made by `ServiceRegistry.register()`. */
  constructor(id: number, name: string, channel: Channel, credentials: PeerCredentials) {
    this.id = id;
    this.name = name;
    this.channel = channel;
    this.credentials = credentials;
  }
}

/**
 * The registrants of one name, as a WorkerSet. It exists before anyone registers the name (empty), emits
 * 'capacity' whenever a registrant joins or leaves, and is closed only with its registry. It cannot start
 * processes: `start()` resolves at once and `demand()` does nothing, so connections routed to a name nobody
 * serves wait (in the dispatcher, up to its `queueTimeoutMs`) or are refused (tcpmux answers `-`).
 */
export class ServiceSet extends EventEmitter<WorkerSetEvents> implements WorkerSet {
  /** The name, in lower case. */
  readonly name: string;
  readonly maxInFlight: number;
  readonly #registrants: Registrant[] = [];
  #next = 0;
  #closed = false;

  /** @internal Made by `ServiceRegistry.service()`. */
  constructor(name: string, maxInFlight: number) {
    super();
    this.name = name;
    this.maxInFlight = maxInFlight;
  }

  /** True once the registry is closed: no registrant will ever join again. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** Registrants of the name, oldest first. */
  get registrants(): readonly Registrant[] {
    return this.#registrants;
  }

  /** Nothing to start: registrants come by themselves. */
  start(): Promise<void> {
    return Promise.resolve();
  }

  /** The registrants whose channel is open, in a stable order (oldest first). */
  available(): readonly Registrant[] {
    return this.#registrants.filter((registrant) => !registrant.channel.isClosed);
  }

  /** A set of registrants cannot grow on demand. */
  demand(): void {}

  /**
   * A registrant did not acknowledge a handoff in time: its channel is destroyed, which removes it, and the
   * handoffs it held come back to their senders (refused with ERR_PORTUNUS_CHANNEL_CLOSED) to go elsewhere.
   */
  reportUnhealthy(worker: DispatchWorker, error: Error): void {
    worker.channel.destroy(error);
  }

  /**
   * The next registrant in turn with room for a handoff (fewer than `maxInFlight` unacknowledged), skipping
   * those in `exclude`; undefined if there is none.
   */
  pick(exclude?: ReadonlySet<Registrant>): Registrant | undefined {
    const count = this.#registrants.length;
    for (let step = 0; step < count; step++) {
      const registrant = this.#registrants[(this.#next + step) % count]!;
      if (registrant.channel.isClosed || registrant.inFlight >= this.maxInFlight || exclude?.has(registrant)) continue;
      this.#next = (this.#next + step + 1) % count;
      return registrant;
    }
    return undefined;
  }

  /** @internal */
  add(registrant: Registrant): void {
    this.#registrants.push(registrant);
    this.emit('capacity');
  }

  /** @internal */
  remove(registrant: Registrant): void {
    const index = this.#registrants.indexOf(registrant);
    if (index < 0) return;
    this.#registrants.splice(index, 1);
    if (this.#next > index) this.#next--;
    this.emit('capacity');
  }

  /** @internal */
  markClosed(): void {
    this.#closed = true;
    this.emit('capacity');
  }
}

/** Who serves which service name; see the module comment, and `openServiceRegistry()` to make one. */
export class ServiceRegistry extends EventEmitter<ServiceRegistryEvents> {
  readonly #allowed: (name: string, credentials: PeerCredentials) => boolean;
  readonly #shareAcrossUids: boolean;
  readonly #maxInFlight: number;
  /** Every set asked for or registered, by lower-case name. A set stays once made (others may route to it). */
  readonly #sets = new Map<string, ServiceSet>();
  readonly #closeHooks: Array<() => Promise<void>> = [];
  #nextId = 1;
  #closed = false;

  /** Checks `options` (throwing ERR_INVALID_ARG_*); the registry is empty until processes register. */
  constructor(options?: ServiceRegistryOptions) {
    super();
    const given = validateOptions(options);
    this.#allowed = registrationPolicy(given.names);
    if (given.shareAcrossUids !== undefined) validateBoolean(given.shareAcrossUids, 'options.shareAcrossUids');
    this.#shareAcrossUids = given.shareAcrossUids ?? false;
    if (given.maxInFlight !== undefined) validateInteger(given.maxInFlight, 'options.maxInFlight', 1);
    this.#maxInFlight = given.maxInFlight ?? 64;
  }

  /** True once `close()` was called. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /**
   * The set of registrants of `name` (case-insensitive), made empty if nobody registered it yet, to point a
   * route at before its service starts. Throws ERR_INVALID_ARG_VALUE for a name that cannot be registered.
   */
  service(name: string): ServiceSet {
    const key = validateServiceName(name, 'name');
    let set = this.#sets.get(key);
    if (set === undefined) {
      set = new ServiceSet(key, this.#maxInFlight);
      if (this.#closed) set.markClosed();
      this.#sets.set(key, set);
    }
    return set;
  }

  /**
   * The set of `name` if it has ever been asked for or registered, else undefined. Unlike `service()`, it never
   * makes a set: what clients send is looked up with it, so that they cannot grow the registry.
   */
  lookup(name: string): ServiceSet | undefined {
    const key = normaliseServiceName(name);
    return key === undefined ? undefined : this.#sets.get(key);
  }

  /** The names with at least one registrant, sorted. */
  names(): string[] {
    const names: string[] = [];
    for (const [name, set] of this.#sets) if (set.available().length > 0) names.push(name);
    return names.sort();
  }

  /**
   * Registers the process at the other end of `channel` for `name`. The registry owns the channel from then
   * on (it destroys it on `close()`), and the registrant is removed when the channel closes. Throws
   * ERR_PORTUNUS_REGISTRATION_REFUSED (with `reason`) if the policy refuses it, the name is reserved or held
   * by another uid, or the registry is closed; the channel is then still the caller's.
   */
  register(name: string, channel: Channel, credentials: PeerCredentials): Registrant {
    const key = normaliseServiceName(name);
    if (key === undefined) throw refused(name, 'not a valid service name', 'invalid');
    if (key === HELP) throw refused(key, 'HELP is reserved: it lists the registered names', 'reserved');
    if (this.#closed) throw refused(key, 'the registry is closed', 'closed');
    // A channel that closed already would never say so again: its registrant would stay forever.
    if (channel.isClosed) throw refused(key, 'the registrant is gone', 'closed');
    if (!this.#allowed(key, credentials))
      throw refused(key, `uid ${credentials.uid} may not register this name`, 'not-allowed');
    const set = this.service(key);
    const holder = set.available()[0];
    if (holder !== undefined && holder.credentials.uid !== credentials.uid && !this.#shareAcrossUids)
      throw refused(key, `the name is registered by uid ${holder.credentials.uid}`, 'taken');
    const registrant = new Registrant(this.#nextId++, key, channel, credentials);
    channel.once('close', () => {
      set.remove(registrant);
      this.emit('unregister', registrant);
    });
    set.add(registrant);
    this.emit('register', registrant);
    return registrant;
  }

  /**
   * Closes the registry: no more registrations, every registrant's channel is destroyed (they see their
   * registration end), every set is marked closed. Resolves once whatever listens for registrations is
   * closed too. Idempotent.
   */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      for (const set of this.#sets.values()) {
        for (const registrant of [...set.registrants]) registrant.channel.destroy();
        set.markClosed();
      }
    }
    await Promise.all(this.#closeHooks.splice(0).map((hook) => hook()));
  }

  /** @internal Something to close with the registry (openServiceRegistry()'s channel server). */
  onClose(hook: () => Promise<void>): void {
    this.#closeHooks.push(hook);
  }
}

function refused(name: string, why: string, reason: string): PortunusError {
  return new PortunusError('ERR_PORTUNUS_REGISTRATION_REFUSED', `cannot register ${JSON.stringify(name)}: ${why}`, {
    name,
    reason,
  });
}

/** Turns the `names` option into a predicate, validating it first. */
function registrationPolicy(
  names: RegistrationPolicy | undefined,
): (name: string, credentials: PeerCredentials) => boolean {
  if (names === undefined) return () => true;
  if (typeof names === 'function') return names;
  if (typeof names !== 'object' || names === null || Array.isArray(names))
    throw invalidArgument('options.names', 'an object from service name to uids, or a function', names);
  const table = new Map<string, Set<number>>();
  for (const [name, uids] of Object.entries(names)) {
    const key = validateServiceName(name, `options.names[${JSON.stringify(name)}]`);
    if (!Array.isArray(uids) || !uids.every((uid) => Number.isInteger(uid) && uid >= 0))
      throw invalidArgument(`options.names[${JSON.stringify(name)}]`, 'an array of uids', uids);
    table.set(key, new Set(uids));
  }
  return (name, credentials) => table.get(name)?.has(credentials.uid) === true;
}
