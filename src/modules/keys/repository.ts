import { and, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { StoredApiKey } from '../../auth/authenticator';
import type { Database } from '../../db/client';
import { apiKeys, type Role } from '../../db/schema';
import { isoUtc } from '../../db/sql';
import type { Transaction } from '../../db/statement';

// Selected in the order and shape of the JSON a client receives, the key itself aside.
const keyColumns = {
  id: apiKeys.id,
  name: apiKeys.name,
  role: apiKeys.role,
  borrower_id: apiKeys.borrowerId,
  created_at: isoUtc(apiKeys.createdAt),
  expires_at: sql<string | null>`${isoUtc(apiKeys.expiresAt)}`,
  revoked_at: sql<string | null>`${isoUtc(apiKeys.revokedAt)}`,
};

export interface NewApiKey {
  id?: string;
  name: string;
  role: Role;
  borrowerId: string | null;
  keyHash: string;
  expiresAt: string | null;
}

export type ApiKeyRepository = ReturnType<typeof createApiKeyRepository>;

export function createApiKeyRepository(db: Database) {
  const byHash = db
    .select({
      id: apiKeys.id,
      role: apiKeys.role,
      borrowerId: apiKeys.borrowerId,
      expiresAt: keyColumns.expires_at,
      revokedAt: keyColumns.revoked_at,
    })
    .from(apiKeys)
    .where(eq(apiKeys.keyHash, sql.placeholder('hash')))
    .prepare('api_key_by_hash');

  return {
    async findByHash(hash: string): Promise<StoredApiKey | undefined> {
      const [key] = await byHash.execute({ hash });
      return key;
    },

    async create(tx: Transaction | undefined, key: NewApiKey) {
      const [created] = await (tx ?? db).insert(apiKeys).values(key).returning(keyColumns);
      if (!created) throw new Error('INSERT … RETURNING returned no row');
      return created;
    },

    list() {
      return db.select(keyColumns).from(apiKeys).orderBy(apiKeys.createdAt, apiKeys.id);
    },

    /** Marks the key revoked (keeping the first revocation time); false when no such key exists. */
    async revoke(id: string): Promise<boolean> {
      const [row] = await db
        .update(apiKeys)
        .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())` })
        .where(eq(apiKeys.id, id))
        .returning({ id: apiKeys.id });
      return row !== undefined;
    },

    /** Inserts the given keys, or brings existing ones (same id) back to exactly this state. */
    async upsert(keys: (NewApiKey & { id: string })[]): Promise<void> {
      await db
        .insert(apiKeys)
        .values(keys)
        .onConflictDoUpdate({
          target: apiKeys.id,
          set: {
            name: sql`excluded.name`,
            role: sql`excluded.role`,
            borrowerId: sql`excluded.borrower_id`,
            keyHash: sql`excluded.key_hash`,
            expiresAt: null,
            revokedAt: null,
          },
        });
    },

    /** How many of these hashes belong to keys that still work. */
    async countActive(hashes: string[]): Promise<number> {
      const rows = await db
        .select({ id: apiKeys.id })
        .from(apiKeys)
        .where(
          and(
            inArray(apiKeys.keyHash, hashes),
            isNull(apiKeys.revokedAt),
            sql`(${apiKeys.expiresAt} IS NULL OR ${apiKeys.expiresAt} > now())`,
          ),
        );
      return rows.length;
    },
  };
}
