const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

const normalize = (address: string) =>
  address
    .trim()
    .replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '')
    .toLowerCase();

function ipv4ToNumber(address: string): number | undefined {
  const octets = IPV4.exec(address)?.slice(1).map(Number);
  if (!octets || octets.some((octet) => octet > 255)) return undefined;
  return octets.reduce((value, octet) => value * 256 + octet, 0);
}

/** A predicate for TRUSTED_PROXIES entries: exact addresses (IPv4 or IPv6) and IPv4 CIDR ranges. */
export function trustedProxyMatcher(entries: string[]): (address: string) => boolean {
  const exact = new Set<string>();
  const ranges: { base: number; size: number }[] = [];
  for (const entry of entries) {
    const [address = '', bits] = entry.split('/');
    const base = ipv4ToNumber(normalize(address));
    if (bits !== undefined && base !== undefined) {
      const size = 2 ** (32 - Number(bits));
      ranges.push({ base: base - (base % size), size });
    } else {
      exact.add(normalize(address));
    }
  }
  return (address) => {
    const candidate = normalize(address);
    if (exact.has(candidate)) return true;
    const value = ipv4ToNumber(candidate);
    return value !== undefined && ranges.some(({ base, size }) => value >= base && value < base + size);
  };
}

/**
 * The client a request speaks for: the socket's peer, unless that peer is a trusted proxy, in which case the
 * nearest X-Forwarded-For entry that is not itself a trusted proxy. A client cannot choose its identity by
 * sending the header straight to the service.
 */
export function clientAddress(
  peer: string | undefined,
  forwardedFor: string | null,
  isTrusted: (address: string) => boolean,
): string {
  if (!peer) return 'unknown';
  if (!forwardedFor || !isTrusted(peer)) return normalize(peer);
  const hops = forwardedFor.split(',').map(normalize).filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i] as string;
    if (!isTrusted(hop) || i === 0) return hop;
  }
  return normalize(peer);
}
