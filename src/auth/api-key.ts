const KEY_PREFIX = 'blk_';
const KEY_BYTES = 32;

/** A new API key: 256 random bits, base64url, behind a prefix that makes a leaked key easy to recognise. */
export const generateApiKey = (): string =>
  KEY_PREFIX + Buffer.from(crypto.getRandomValues(new Uint8Array(KEY_BYTES))).toString('base64url');

/** What the database stores and looks a key up by: its SHA-256, hex (the one-shot hash: a third of a CryptoHasher's cost). */
export const hashApiKey = (key: string): string => Bun.SHA256.hash(key, 'hex');
