/**
 * The takeover layer's door: a running process hands all its named listeners to its successor
 * (`offerListeners()` on the running side, `takeListeners()` on the successor's), so that a new version
 * of a server replaces the old one without a refused connection. docs/upgrades.md tells the whole story.
 * The other layers, and src/index.ts, import src/takeover through this file only.
 * @module
 */
export {
  offerListeners,
  TakeoverServer,
  type OfferListenersOptions,
  type Successor,
  type TakeoverServerEvents,
  type TakeoverState,
} from './offer.js';
export { takeListeners, TakenListeners, type TakeListenersOptions, type TakenListener } from './take.js';
export type { TakeoverListenerKind } from './frames.js';
export type { TakeoverListener } from './listeners.js';
export { TakeoverFrame } from './frames.js';
