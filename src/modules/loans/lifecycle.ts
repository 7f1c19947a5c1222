import type { Permission } from '../../auth/permissions';
import type { LoanEventType, LoanStatus } from '../../db/schema';

export const commandNames = [
  'approve',
  'reject',
  'undo-approval',
  'disburse',
  'undo-disbursal',
  'write-off',
] as const;
export type CommandName = (typeof commandNames)[number];

/** What a command's body may carry: a reason (optional or required), or a disbursal date. */
export type CommandBody = 'optional-reason' | 'required-reason' | 'disbursal';

export interface Transition {
  from: LoanStatus;
  to: LoanStatus;
  event: LoanEventType;
  permission: Permission;
  body: CommandBody;
}

/** The loan's state machine: the only way a status changes, apart from the repayment that clears a balance. */
export const transitions: Record<CommandName, Transition> = {
  approve: {
    from: 'pending',
    to: 'approved',
    event: 'approved',
    permission: 'loans:approve',
    body: 'optional-reason',
  },
  reject: {
    from: 'pending',
    to: 'rejected',
    event: 'rejected',
    permission: 'loans:reject',
    body: 'required-reason',
  },
  'undo-approval': {
    from: 'approved',
    to: 'pending',
    event: 'approval_undone',
    permission: 'loans:undo-approval',
    body: 'optional-reason',
  },
  disburse: {
    from: 'approved',
    to: 'disbursed',
    event: 'disbursed',
    permission: 'loans:disburse',
    body: 'disbursal',
  },
  'undo-disbursal': {
    from: 'disbursed',
    to: 'approved',
    event: 'disbursal_undone',
    permission: 'loans:undo-disbursal',
    body: 'optional-reason',
  },
  'write-off': {
    from: 'disbursed',
    to: 'defaulted',
    event: 'written_off',
    permission: 'loans:write-off',
    body: 'required-reason',
  },
};

/** The commands a loan in this status accepts. */
export const commandsFrom = (status: LoanStatus): CommandName[] =>
  commandNames.filter((name) => transitions[name].from === status);
