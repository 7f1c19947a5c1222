import type { Role } from '../db/schema';

export const permissions = [
  'loans:read',
  'loans:create',
  'loans:amend',
  'loans:approve',
  'loans:reject',
  'loans:undo-approval',
  'loans:disburse',
  'loans:undo-disbursal',
  'loans:write-off',
  'repayments:create',
  'stats:read',
  'keys:manage',
] as const;
export type Permission = (typeof permissions)[number];

const lending = permissions.filter((permission) => permission !== 'keys:manage');

/**
 * What each role may do. A borrower's permissions are further bound to their own borrower id: they read, create
 * and amend only their own loans.
 */
export const rolePermissions: Record<Role, ReadonlySet<Permission>> = {
  borrower: new Set(['loans:read', 'loans:create', 'loans:amend']),
  officer: new Set(lending),
  admin: new Set(permissions),
};

/** Who is calling: the actor recorded in audit events, the role, and for a borrower their borrower id. */
export interface Principal {
  /** An API key's id, or `jwt:<sub>`. */
  actor: string;
  role: Role;
  borrowerId: string | null;
}

export const may = (principal: Principal, permission: Permission): boolean =>
  rolePermissions[principal.role].has(permission);

/** The borrower whose loans alone this principal sees, or null for every loan. */
export const borrowerScope = (principal: Principal): string | null =>
  principal.role === 'borrower' ? principal.borrowerId : null;
