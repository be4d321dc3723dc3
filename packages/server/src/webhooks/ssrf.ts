import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/**
 * Which addresses webhooks may be sent to. By default only public ones: a webhook URL is
 * chosen by whoever may edit an agent, and the server must not become their way into the
 * private network it runs in (SSRF: cloud metadata services, admin ports on localhost, other
 * services on the private network).
 */
export interface WebhookAddressPolicy {
  /** Allow every address, private ones included (`ARDEN_WEBHOOK_ALLOW_PRIVATE=1`). */
  allowPrivate?: boolean;
  /**
   * Exceptions (`ARDEN_WEBHOOK_ALLOWED_HOSTS`, comma-separated): host names (`hooks.internal`,
   * or `*.corp.example` for every name under it) whose URLs may resolve to any address, and IP
   * addresses or CIDR ranges (`10.1.2.0/24`, `127.0.0.1`, `fd00::/8`) that may be reached.
   */
  allowedHosts?: readonly string[];
}

/** A webhook URL that points, or resolves, where webhooks may not go. */
export class ForbiddenWebhookAddressError extends Error {
  readonly code = 'ERR_ARDEN_WEBHOOK_ADDRESS';
  constructor(message: string) {
    super(message);
    this.name = 'ForbiddenWebhookAddressError';
  }
}

const forbidden = new BlockList();
const reasons: [string, number, 'ipv4' | 'ipv6', string][] = [
  ['0.0.0.0', 8, 'ipv4', '"this network"'],
  ['10.0.0.0', 8, 'ipv4', 'private'],
  ['100.64.0.0', 10, 'ipv4', 'shared (carrier-grade NAT, some cloud metadata services)'],
  ['127.0.0.0', 8, 'ipv4', 'loopback'],
  ['169.254.0.0', 16, 'ipv4', 'link-local (cloud metadata services such as 169.254.169.254)'],
  ['172.16.0.0', 12, 'ipv4', 'private'],
  ['192.0.0.0', 24, 'ipv4', 'reserved for protocols (some cloud metadata services)'],
  ['192.168.0.0', 16, 'ipv4', 'private'],
  ['198.18.0.0', 15, 'ipv4', 'reserved for network tests'],
  ['224.0.0.0', 4, 'ipv4', 'multicast'],
  ['240.0.0.0', 4, 'ipv4', 'reserved'],
  ['::', 128, 'ipv6', 'unspecified'],
  ['::1', 128, 'ipv6', 'loopback'],
  ['fc00::', 7, 'ipv6', 'private (unique local; cloud metadata such as fd00:ec2::254)'],
  ['fe80::', 10, 'ipv6', 'link-local'],
  ['fec0::', 10, 'ipv6', 'site-local'],
  ['ff00::', 8, 'ipv6', 'multicast'],
];
for (const [network, prefix, family] of reasons) forbidden.addSubnet(network, prefix, family);

function reasonFor(address: string, family: 'ipv4' | 'ipv6'): string | undefined {
  for (const [network, prefix, range, reason] of reasons) {
    if (range !== family) continue;
    const one = new BlockList();
    one.addSubnet(network, prefix, family);
    if (one.check(address, family)) return reason;
  }
  return undefined;
}

// The IPv4 address carried inside an IPv6 one (IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible
// ::a.b.c.d, NAT64 64:ff9b::a.b.c.d, 6to4 2002:AABB:CCDD::), else undefined.
function embeddedIPv4(address: string): string | undefined {
  const groups = expandIPv6(address);
  if (!groups) return undefined;
  const v4 = (high: number, low: number) => `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
  const zero = (from: number, to: number) => groups.slice(from, to).every((group) => group === 0);
  if (zero(0, 5) && groups[5] === 0xffff) return v4(groups[6] as number, groups[7] as number);
  if (zero(0, 6) && (groups[6] !== 0 || (groups[7] as number) > 1)) {
    return v4(groups[6] as number, groups[7] as number);
  }
  if (groups[0] === 0x64 && groups[1] === 0xff9b && zero(2, 6)) {
    return v4(groups[6] as number, groups[7] as number);
  }
  if (groups[0] === 0x2002) return v4(groups[1] as number, groups[2] as number);
  return undefined;
}

function expandIPv6(address: string): number[] | undefined {
  let text = address.toLowerCase().replace(/%.*$/, '');
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - tail.length;
  if (missing < 0 || (halves.length === 1 && missing !== 0)) return undefined;
  const groups = [...head, ...Array(missing).fill('0'), ...tail].map((group) =>
    Number.parseInt(group, 16),
  );
  return groups.length === 8 && groups.every((group) => group >= 0 && group <= 0xffff)
    ? groups
    : undefined;
}

/**
 * Why webhooks may not be sent to `address` (an IP address), or undefined when they may:
 * private, loopback, link-local (cloud metadata), shared, multicast and reserved ranges, also
 * when written inside an IPv6 address.
 */
export function forbiddenAddressReason(address: string): string | undefined {
  const family = isIP(address) === 6 ? 'ipv6' : isIP(address) === 4 ? 'ipv4' : undefined;
  if (!family) return 'not an IP address';
  if (family === 'ipv6') {
    const inner = embeddedIPv4(address);
    if (inner !== undefined) {
      const reason = forbiddenAddressReason(inner);
      if (reason) return `${reason}, inside an IPv6 address`;
    }
  }
  if (!forbidden.check(address, family)) return undefined;
  return reasonFor(address, family) ?? 'not public';
}

interface CompiledPolicy {
  allowAll: boolean;
  names: Set<string>;
  suffixes: string[];
  addresses: BlockList;
}

const compiled = new WeakMap<WebhookAddressPolicy, CompiledPolicy>();

function compile(policy: WebhookAddressPolicy): CompiledPolicy {
  let result = compiled.get(policy);
  if (result) return result;
  result = {
    allowAll: policy.allowPrivate === true,
    names: new Set(),
    suffixes: [],
    addresses: new BlockList(),
  };
  for (const raw of policy.allowedHosts ?? []) {
    const entry = raw
      .trim()
      .toLowerCase()
      .replace(/^\[|\]$/g, '');
    if (!entry) continue;
    const [network, prefix] = entry.split('/');
    const family = isIP(network ?? '');
    if (family) {
      const bits = prefix === undefined ? (family === 4 ? 32 : 128) : Number(prefix);
      result.addresses.addSubnet(network as string, bits, family === 4 ? 'ipv4' : 'ipv6');
    } else if (entry.startsWith('*.')) {
      result.suffixes.push(entry.slice(1));
    } else {
      result.names.add(entry);
    }
  }
  compiled.set(policy, result);
  return result;
}

/** Parses `ARDEN_WEBHOOK_ALLOWED_HOSTS`: comma- or space-separated; throws naming a bad entry. */
export function parseAllowedHosts(value: string | undefined): string[] {
  if (!value) return [];
  const entries = value
    .split(/[\s,]+/)
    .map((entry) => entry.trim())
    .filter(Boolean);
  for (const entry of entries) {
    const [network, prefix] = entry.replace(/^\[|\]$/g, '').split('/');
    const family = isIP(network ?? '');
    const valid = family
      ? prefix === undefined ||
        (/^\d+$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128))
      : /^(\*\.)?[a-z0-9_.-]+$/i.test(entry);
    if (!valid) {
      throw new Error(
        `ARDEN_WEBHOOK_ALLOWED_HOSTS: "${entry}" is not a host name, *.domain, IP address or CIDR range.`,
      );
    }
  }
  return entries;
}

function hostAllowed(policy: CompiledPolicy, hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  return policy.names.has(host) || policy.suffixes.some((suffix) => host.endsWith(suffix));
}

function addressAllowed(policy: CompiledPolicy, address: string): boolean {
  const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
  return policy.addresses.check(address, family);
}

/** Why `address` (resolved from `hostname`) may not be reached under `policy`, if it may not. */
export function refusal(
  policy: WebhookAddressPolicy,
  hostname: string,
  address: string,
): string | undefined {
  const rules = compile(policy);
  if (rules.allowAll || hostAllowed(rules, hostname) || addressAllowed(rules, address)) {
    return undefined;
  }
  const reason = forbiddenAddressReason(address);
  if (!reason) return undefined;
  const shown = hostname === address ? address : `${hostname} (${address})`;
  return `webhooks may not be sent to ${shown}: the address is ${reason}. Set ARDEN_WEBHOOK_ALLOW_PRIVATE=1, or list the host in ARDEN_WEBHOOK_ALLOWED_HOSTS, to allow it.`;
}

/** Resolves a host name to its addresses (default: the system's resolver, like `dns.lookup`). */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

const systemResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true, verbatim: true }, (error, addresses) =>
      error ? reject(error) : resolve(addresses),
    ),
  );

function bareHost(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '');
}

/**
 * Checks a webhook URL against `policy`: its host, or every address its name resolves to now,
 * must be allowed. Throws `ForbiddenWebhookAddressError`. A name that does not resolve passes
 * (it may not exist yet): `lookupFor()` checks the addresses again at every send.
 */
export async function checkWebhookUrl(
  url: string,
  policy: WebhookAddressPolicy,
  resolver: Resolver = systemResolver,
): Promise<void> {
  const rules = compile(policy);
  if (rules.allowAll) return;
  const parsed = new URL(url);
  const host = bareHost(parsed);
  if (hostAllowed(rules, host)) return;
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = (await resolver(host)).map((entry) => entry.address);
    } catch {
      return;
    }
  }
  for (const address of addresses) {
    const reason = refusal(policy, host, address);
    if (reason) throw new ForbiddenWebhookAddressError(reason);
  }
}

/**
 * A `lookup` for `http.request` that resolves the name and refuses (with
 * `ForbiddenWebhookAddressError`) when any address it resolves to is not allowed. The
 * connection goes to the address checked here, so a name re-pointed between a check and the
 * connection (DNS rebinding) cannot reach a private address.
 */
export function lookupFor(
  policy: WebhookAddressPolicy,
  resolver: Resolver = systemResolver,
): LookupFunction {
  return ((hostname: string, options: { all?: boolean }, callback: LookupCallback) => {
    resolver(hostname).then(
      (addresses) => {
        for (const { address } of addresses) {
          const reason = refusal(policy, hostname, address);
          if (reason) {
            callback(new ForbiddenWebhookAddressError(reason) as NodeJS.ErrnoException, '', 0);
            return;
          }
        }
        if (addresses.length === 0) {
          const error = new Error(`${hostname} has no address`) as NodeJS.ErrnoException;
          error.code = 'ENOTFOUND';
          callback(error, '', 0);
          return;
        }
        if (options?.all) (callback as unknown as AllCallback)(null, addresses);
        else callback(null, addresses[0]?.address as string, addresses[0]?.family as number);
      },
      (error) => callback(error, '', 0),
    );
  }) as unknown as LookupFunction;
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string,
  family: number,
) => void;
type AllCallback = (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void;
