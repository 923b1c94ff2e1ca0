/**
 * Host names as the router compares them, whether they come from an HTTP Host header, a TLS server name or a
 * route: lower case, no trailing dot, no port, and only what a DNS name may contain.
 * @module
 */

/** At most 253 characters; labels of letters, digits, hyphens and underscores, up to 63 each. */
const HOST_NAME =
  /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

/** The canonical form of a host name, or undefined when `text` is not one. */
export function hostName(text: string): string | undefined {
  const name = text.toLowerCase().replace(/\.$/, '');
  return HOST_NAME.test(name) ? name : undefined;
}

/**
 * The host of an HTTP Host header value (`name`, `name:port`, `[v6]:port`), canonical; IP literals are kept as
 * written. Undefined when the value is not a host.
 */
export function hostOfAuthority(value: string): string | undefined {
  const text = value.trim();
  const bracketed = /^\[([0-9a-f:.]+)\](?::\d{1,5})?$/i.exec(text);
  if (bracketed !== null) return bracketed[1]!.toLowerCase();
  const match = /^([^:]+)(?::\d{1,5})?$/.exec(text);
  return match === null ? undefined : hostName(match[1]!);
}
