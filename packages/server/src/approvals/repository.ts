import type { Queryable } from '../store/database';
import type { ActionRecord } from '../store/records';
import type { ApprovalState } from './state';

// The approvals room's SQL: the held action locked for a vote, its approval state, and the
// groups users belong to (`from: [group]` in a policy).

/** Approval state and user groups, bound to a database or a transaction. */
export function approvalRepository(db: Queryable) {
  return {
    /**
     * The action, locked until the transaction ends (PostgreSQL `FOR UPDATE`; SQLite's write
     * transaction holds the whole database), so that votes on two replicas are counted in turn.
     */
    async lockAction(id: string): Promise<boolean> {
      const lock = db.dialect === 'postgres' ? 'FOR UPDATE' : '';
      const row = await db.get(`SELECT id FROM actions WHERE id = ? ${lock}`, [id]);
      return row !== undefined;
    },
    /** Saves the approval state of a pending action; false when it is no longer pending. */
    async saveState(id: string, state: ApprovalState): Promise<boolean> {
      const result = await db.run(
        `UPDATE actions SET approval = ? WHERE id = ? AND status = 'pending'`,
        [JSON.stringify(state), id],
      );
      return result.changes > 0;
    },
    /** Saves the approval state of an action just decided (in the deciding transaction). */
    async saveDecided(action: ActionRecord, state: ApprovalState): Promise<ActionRecord> {
      await db.run('UPDATE actions SET approval = ? WHERE id = ?', [
        JSON.stringify(state),
        action.id,
      ]);
      return { ...action, approval: state };
    },
    /** The groups of a user, sorted. */
    async groupsOf(userId: string): Promise<string[]> {
      const rows = await db.all<{ group_name: string }>(
        'SELECT group_name FROM user_groups WHERE user_id = ? ORDER BY group_name',
        [userId],
      );
      return rows.map((row) => row.group_name);
    },
    /** Replaces a user's groups. */
    async setGroups(userId: string, groups: readonly string[], now: number): Promise<void> {
      await db.run('DELETE FROM user_groups WHERE user_id = ?', [userId]);
      for (const group of groups) {
        await db.run('INSERT INTO user_groups (user_id, group_name, created_at) VALUES (?, ?, ?)', [
          userId,
          group,
          now,
        ]);
      }
    },
    /** Every user's groups (users without any are absent). */
    async allGroups(): Promise<Map<string, string[]>> {
      const rows = await db.all<{ user_id: string; group_name: string }>(
        'SELECT user_id, group_name FROM user_groups ORDER BY user_id, group_name',
      );
      const groups = new Map<string, string[]>();
      for (const row of rows) {
        const list = groups.get(row.user_id) ?? [];
        list.push(row.group_name);
        groups.set(row.user_id, list);
      }
      return groups;
    },
  };
}
