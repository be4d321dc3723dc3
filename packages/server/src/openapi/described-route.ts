import type { AdminRoute } from '../admin/table';
import type { RouteAccess } from '../auth/roles';

/**
 * A route as the document describes it: an admin route, or an agent API route (`access:
 * 'agent'`, authenticated by an agent key).
 */
export type DescribedRoute = Omit<AdminRoute, 'handler' | 'access'> & {
  access: RouteAccess | 'agent';
};
