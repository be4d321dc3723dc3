import type { UserRole } from '../store';

/** The roles of admin users, from the least to the most powerful. */
export const roles: readonly UserRole[] = ['viewer', 'approver', 'admin'];

const rank: Record<UserRole, number> = { viewer: 1, approver: 2, admin: 3 };

/**
 * Who may call an admin route: `public` (no credential: login, the OpenAPI document), or the
 * least role that may (`viewer` reads, `approver` also decides held actions, `admin` does
 * everything).
 */
export type RouteAccess = 'public' | UserRole;

/** Whether a user of `role` may call a route that needs `required`. */
export function roleAllows(role: UserRole, required: RouteAccess): boolean {
  return required === 'public' || rank[role] >= rank[required];
}

/** Whether `value` is a role name. */
export function isRole(value: unknown): value is UserRole {
  return typeof value === 'string' && value in rank;
}
