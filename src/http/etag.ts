/** The strong ETag of a resource at this version. */
export const etagOf = (version: number) => `"${version}"`;

// One list element and its comma; empty elements (`, "1"`, `"1",,"2"`) are skipped, as RFC 9110 §5.6.1.2 asks.
const ENTITY_TAG = /[\s,]*(?:(W\/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*(?:,|$)|$)/y;

/**
 * The If-Match precondition (RFC 9110 §13.1.1) as a test of the current version: `*` matches any, a list
 * matches when one of its strong tags does, a weak tag never does, and a header that is not a valid list of
 * entity tags matches nothing. Undefined when the request has no If-Match.
 */
export function ifMatch(header: string | null): ((version: number) => boolean) | undefined {
  if (header === null) return undefined;
  if (header.trim() === '*') return () => true;
  const strong = new Set<string>();
  ENTITY_TAG.lastIndex = 0;
  while (ENTITY_TAG.lastIndex < header.length) {
    const start = ENTITY_TAG.lastIndex;
    const match = ENTITY_TAG.exec(header);
    if (!match || ENTITY_TAG.lastIndex === start) return () => false;
    if (!match[1] && match[2] !== undefined) strong.add(`"${match[2]}"`);
  }
  return (version) => strong.has(etagOf(version));
}
