import { hashApiKey } from '../../auth/api-key';
import type { NewApiKey } from './repository';

// Named apart from their text: a key's name is listed and logged, and the key itself never is.
const devKey = (
  n: number,
  key: string,
  name: string,
  role: NewApiKey['role'],
  borrowerId: string | null = null,
) => ({
  id: `00000000-0000-4000-8000-00000000d00${n}`,
  name,
  role,
  borrowerId,
  keyHash: hashApiKey(key),
  expiresAt: null,
});

/**
 * The development keys of the contract: refreshed at every start in development, never present in staging or
 * production (which refuse to start while one is active). Their text is public, so they must never work there.
 */
export const developmentKeys = [
  devKey(1, 'dev-admin-key', 'development admin', 'admin'),
  devKey(2, 'dev-officer-key', 'development officer', 'officer'),
  devKey(3, 'dev-officer2-key', 'development officer 2', 'officer'),
  devKey(4, 'dev-borrower-key', 'development borrower usr_kenya_001', 'borrower', 'usr_kenya_001'),
  devKey(5, 'dev-borrower2-key', 'development borrower usr_india_002', 'borrower', 'usr_india_002'),
];
