/**
 * The router's routes: which pool serves which host name (an HTTP Host header or a TLS server name), path
 * prefix (HTTP) and ALPN protocol (TLS). Checked once when the router starts; matched in order, first match
 * wins.
 * @module
 */
import { invalidArgument } from '../errors.js';
import { validateInteger, validateObject, validateOneOf, validateString } from '../validate.js';
import { hostName } from './host-name.js';

/** One route of `serveRouter()`. */
export interface RouterRoute {
  /**
   * The host: an exact name ('api.example.test') or a wildcard for one label ('*.example.test'). Compared
   * with the Host header (HTTP) or the server name (TLS), case-insensitively. Omitted: any host, and
   * connections that name none.
   */
  host?: string;
  /** HTTP only: a path prefix, matched on whole segments ('/api' takes '/api' and '/api/x', not '/apix'). */
  pathPrefix?: string;
  /** TLS only: the client must offer this ALPN protocol ('h2', 'http/1.1'…). */
  alpn?: string;
  /** Which connections the route is for: 'http' (a request head), 'tls' (a ClientHello). Default both. */
  protocol?: 'http' | 'tls';
  /** The name of the pool (a key of `pools`) that gets the connection. */
  to: string;
  /**
   * Put a PROXY protocol header of this version in front of the connection's bytes, for a service that
   * expects one: it names the client (or the one a PROXY header given to the router named).
   */
  sendProxyProtocol?: 1 | 2;
}

/** What a connection offers to be routed on. */
export interface RouteQuery {
  protocol: 'http' | 'tls';
  host: string | undefined;
  path: string | undefined;
  alpn: readonly string[];
}

/** The outcome: a route, or what was missing (no route for the host at all, or only not for this path). */
export type RouteMatch = { route: RouterRoute } | { route: undefined; hostKnown: boolean };

interface CompiledRoute {
  route: RouterRoute;
  exact: string | undefined;
  /** For '*.example.test': '.example.test'. */
  suffix: string | undefined;
}

export class RouteTable {
  readonly #routes: CompiledRoute[];

  /** Validates `routes` against the pool names (throwing ERR_INVALID_ARG_*). */
  constructor(routes: readonly RouterRoute[], pools: ReadonlySet<string>) {
    if (!Array.isArray(routes) || routes.length === 0)
      throw invalidArgument('options.routes', 'a non-empty array of routes', routes);
    this.#routes = routes.map((route, index) => compile(route, `options.routes[${index}]`, pools));
  }

  match(query: RouteQuery): RouteMatch {
    let hostKnown = false;
    for (const { route, exact, suffix } of this.#routes) {
      if ((route.protocol ?? query.protocol) !== query.protocol) continue;
      if (exact !== undefined && query.host !== exact) continue;
      if (suffix !== undefined && !(query.host !== undefined && isOneLabelUnder(query.host, suffix))) continue;
      hostKnown = true;
      if (route.pathPrefix !== undefined && (query.path === undefined || !underPrefix(query.path, route.pathPrefix)))
        continue;
      if (route.alpn !== undefined && !query.alpn.includes(route.alpn)) continue;
      return { route };
    }
    return { route: undefined, hostKnown };
  }
}

function isOneLabelUnder(host: string, suffix: string): boolean {
  return host.endsWith(suffix) && host.length > suffix.length && !host.slice(0, -suffix.length).includes('.');
}

function underPrefix(path: string, prefix: string): boolean {
  if (!path.startsWith(prefix)) return false;
  return prefix.endsWith('/') || path.length === prefix.length || path[prefix.length] === '/';
}

function compile(route: RouterRoute, name: string, pools: ReadonlySet<string>): CompiledRoute {
  validateObject(route, name);
  validateString(route.to, `${name}.to`, { nonEmpty: true });
  if (!pools.has(route.to))
    throw invalidArgument(`${name}.to`, `the name of a pool (${[...pools].join(', ')})`, route.to, 'value');
  if (route.protocol !== undefined) validateOneOf(route.protocol, `${name}.protocol`, ['http', 'tls']);
  if (route.sendProxyProtocol !== undefined)
    validateInteger(route.sendProxyProtocol, `${name}.sendProxyProtocol`, 1, 2);
  if (route.pathPrefix !== undefined) {
    validateString(route.pathPrefix, `${name}.pathPrefix`);
    if (!route.pathPrefix.startsWith('/'))
      throw invalidArgument(`${name}.pathPrefix`, "a path starting with '/'", route.pathPrefix, 'value');
    if (route.protocol === 'tls')
      throw invalidArgument(
        `${name}.pathPrefix`,
        'absent on a TLS route (paths are encrypted)',
        route.pathPrefix,
        'value',
      );
  }
  if (route.alpn !== undefined) {
    validateString(route.alpn, `${name}.alpn`, { nonEmpty: true });
    if (route.protocol === 'http')
      throw invalidArgument(`${name}.alpn`, 'absent on an HTTP route', route.alpn, 'value');
  }
  if (route.host === undefined) return { route, exact: undefined, suffix: undefined };
  validateString(route.host, `${name}.host`, { nonEmpty: true });
  const wildcard = route.host.startsWith('*.');
  const canonical = hostName(wildcard ? route.host.slice(2) : route.host);
  if (canonical === undefined)
    throw invalidArgument(`${name}.host`, "a host name or '*.' and a host name", route.host, 'value');
  return wildcard
    ? { route, exact: undefined, suffix: `.${canonical}` }
    : { route, exact: canonical, suffix: undefined };
}
