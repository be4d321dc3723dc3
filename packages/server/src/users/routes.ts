import { emailsOf, v1 } from '../admin/route-helpers';
import * as common from '../admin/schemas';
import { iso, tokenView, userView } from '../admin/serialize';
import { type AdminRoute, route } from '../admin/table';
import { ForbiddenError, NotFoundError } from '../errors';
import * as schemas from './schema';

// The admin API of users: logging in and out, the logged-in user, users and admin tokens.

/** Logging in and out, the logged-in user, users and admin tokens. */
export const userRoutes: readonly AdminRoute[] = [
  route({
    method: 'POST',
    path: `${v1}/auth/login`,
    access: 'public',
    tag: 'auth',
    summary: 'Log in with email and password',
    description:
      'Sets the session cookie (HttpOnly, SameSite=Strict; Secure over HTTPS). Failed logins are limited per email and per client address (429 with Retry-After).',
    body: schemas.loginBody,
    response: schemas.loginResponse,
    async handler(call) {
      const result = await call.services.auth.login(
        call.context,
        call.body.email,
        call.body.password,
      );
      call.header('set-cookie', result.cookie);
      return { user: userView(result.user), expires_at: iso(result.expiresAt) };
    },
  }),
  route({
    method: 'POST',
    path: `${v1}/auth/logout`,
    access: 'public',
    tag: 'auth',
    summary: 'Log out (end the browser session and clear its cookie)',
    response: common.okBody,
    async handler(call) {
      call.header('set-cookie', await call.services.auth.logout(call.context, call.principal));
      return { ok: true as const };
    },
  }),
  route({
    method: 'GET',
    path: `${v1}/me`,
    access: 'viewer',
    tag: 'auth',
    summary: 'The logged-in user and what they may do',
    response: schemas.meResponse,
    async handler(call) {
      const user = call.user;
      return {
        user: userView(user),
        authenticated_by: call.principal?.via ?? 'session',
        permissions: { decide: user.role !== 'viewer', administer: user.role === 'admin' },
      };
    },
  }),
  route({
    method: 'POST',
    path: `${v1}/me/password`,
    access: 'viewer',
    tag: 'auth',
    summary: 'Change your own password',
    description: 'Ends your other browser sessions.',
    body: schemas.passwordChangeBody,
    response: common.okBody,
    async handler(call) {
      await call.services.users.changePassword(
        call.user.id,
        call.body.current_password,
        call.body.new_password,
        call.principal?.sessionHash,
      );
      return { ok: true as const };
    },
  }),

  route({
    method: 'GET',
    path: `${v1}/users`,
    access: 'admin',
    tag: 'users',
    summary: 'List users',
    response: schemas.userList,
    async handler(call) {
      return { items: (await call.services.server.store.users.list()).map(userView) };
    },
  }),
  route({
    method: 'POST',
    path: `${v1}/users`,
    access: 'admin',
    tag: 'users',
    summary: 'Create a user',
    description:
      'Without `password`, a one-time password is generated and returned once; give it to the user, who should change it (POST /api/v1/me/password).',
    body: schemas.userCreateBody,
    response: schemas.userCreatedResponse,
    status: 201,
    async handler(call) {
      const created = await call.services.users.createUser({
        email: call.body.email,
        role: call.body.role,
        name: call.body.name ?? null,
        password: call.body.password ?? null,
      });
      return created.generatedPassword === undefined
        ? { user: userView(created.user) }
        : { user: userView(created.user), password: created.generatedPassword };
    },
  }),
  route({
    method: 'GET',
    path: `${v1}/users/:user_id`,
    access: 'admin',
    tag: 'users',
    summary: 'Get a user',
    params: { user_id: 'User id or email.' },
    response: schemas.user,
    async handler(call) {
      return userView(await call.services.users.getUser(call.params.user_id as string));
    },
  }),
  route({
    method: 'PATCH',
    path: `${v1}/users/:user_id`,
    access: 'admin',
    tag: 'users',
    summary: "Change a user's role or name, or disable or enable them",
    description:
      'Disabling ends their sessions and stops their tokens. The last enabled admin cannot be demoted or disabled (409).',
    params: { user_id: 'User id or email.' },
    body: schemas.userUpdateBody,
    response: schemas.user,
    async handler(call) {
      return userView(
        await call.services.users.updateUser(call.params.user_id as string, call.body),
      );
    },
  }),
  route({
    method: 'POST',
    path: `${v1}/users/:user_id/reset-password`,
    access: 'admin',
    tag: 'users',
    summary: "Reset a user's password to a generated one (returned once)",
    params: { user_id: 'User id or email.' },
    response: schemas.userCreatedResponse,
    async handler(call) {
      const reset = await call.services.users.resetPassword(call.params.user_id as string);
      return { user: userView(reset.user), password: reset.password };
    },
  }),

  route({
    method: 'GET',
    path: `${v1}/tokens`,
    access: 'viewer',
    tag: 'tokens',
    summary: 'List your admin tokens (admins: `?all=true` for everyone’s)',
    query: schemas.tokenQuery,
    response: schemas.tokenList,
    async handler(call) {
      const user = call.user;
      const all = call.query.all === 'true';
      if (all && user.role !== 'admin') {
        throw new ForbiddenError("Only admins may list other users' tokens; leave out all=true.");
      }
      const tokens = await call.services.server.store.adminTokens.list(all ? undefined : user.id);
      const emails = await emailsOf(
        call,
        tokens.map((token) => token.userId),
      );
      return { items: tokens.map((token) => tokenView(token, emails.get(token.userId) ?? null)) };
    },
  }),
  route({
    method: 'POST',
    path: `${v1}/tokens`,
    access: 'viewer',
    tag: 'tokens',
    summary: 'Create an admin token for yourself (shown once)',
    description:
      'The token acts as you, with your role. Send it as `Authorization: Bearer arden_admin_…`. It is shown in this answer only; later only its prefix.',
    body: schemas.tokenCreateBody,
    response: schemas.tokenCreatedResponse,
    status: 201,
    async handler(call) {
      const user = call.user;
      const created = await call.services.users.createToken(
        user.id,
        call.body.name,
        call.body.expires_in_days,
      );
      return { token: created.token, admin_token: tokenView(created.record, user.email) };
    },
  }),
  route({
    method: 'POST',
    path: `${v1}/tokens/:token_id/revoke`,
    access: 'viewer',
    tag: 'tokens',
    summary: 'Revoke an admin token (your own; admins: any)',
    params: { token_id: 'Token id.' },
    response: schemas.adminToken,
    async handler(call) {
      const user = call.user;
      const id = call.params.token_id as string;
      const token = await call.services.queries.adminToken(id);
      if (!token || (token.userId !== user.id && user.role !== 'admin')) {
        throw new NotFoundError(
          `No admin token ${id.slice(0, 100)} of yours. List them with GET /api/v1/tokens.`,
        );
      }
      const revoked = await call.services.users.revokeToken(id);
      const emails = await emailsOf(call, [revoked.userId]);
      return tokenView(revoked, emails.get(revoked.userId) ?? null);
    },
  }),
];
