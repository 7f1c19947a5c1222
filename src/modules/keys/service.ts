import { generateApiKey, hashApiKey } from '../../auth/api-key';
import type { Transaction } from '../../db/statement';
import { Problem } from '../../http/problem';
import { bodyRules } from '../../http/validation';
import { type CreatedApiKey, KeyModel } from './model';
import type { ApiKeyRepository } from './repository';

export type KeyService = ReturnType<typeof createKeyService>;

const createRules = bodyRules(KeyModel.createKey);

const invalid = (path: string, message: string) =>
  new Problem(422, 'The request body breaks 1 rule.', { errors: [{ path, message }] });

/** Issuing and revoking API keys; `onRevoked` lets the authenticator drop what it cached. */
export function createKeyService(keys: ApiKeyRepository, { onRevoked }: { onRevoked?: () => void } = {}) {
  return {
    /** Checks the body (after the credential, the role and the Idempotency-Key) and issues the key. */
    async create(body: unknown, tx?: Transaction, now = Date.now()): Promise<CreatedApiKey> {
      const input = createRules(body);
      if (input.role === 'borrower' && input.borrower_id === undefined) {
        throw invalid('/borrower_id', 'borrower_id is required for the borrower role');
      }
      if (input.role !== 'borrower' && input.borrower_id !== undefined) {
        throw invalid('/borrower_id', `borrower_id is only for the borrower role, not ${input.role}`);
      }
      if (input.expires_at !== undefined && !(Date.parse(input.expires_at) > now)) {
        throw invalid('/expires_at', 'expires_at must be in the future');
      }
      const key = generateApiKey();
      const created = await keys.create(tx, {
        name: input.name,
        role: input.role,
        borrowerId: input.borrower_id ?? null,
        keyHash: hashApiKey(key),
        expiresAt: input.expires_at ?? null,
      });
      return { ...created, key };
    },

    list: () => keys.list(),

    async revoke(id: string): Promise<void> {
      if (!(await keys.revoke(id))) throw new Problem(404, 'No API key has this id.');
      onRevoked?.();
    },
  };
}
