import * as z from 'zod';
import { nullableTimestamp, role, timestamp } from '../admin/schemas';

// Users, logins and admin tokens. Parsed and documented
// (`/api/openapi.json`) with the shared pieces of `admin/schemas.ts`.

/** Query of token listings. */
export const tokenQuery = z.object({
  all: z
    .enum(['true', 'false'])
    .optional()
    .meta({ description: "Admins only: every user's tokens, not only your own." }),
});

/** Body of `POST /api/v1/auth/login`. */
export const loginBody = z.object({
  email: z.string().max(254),
  password: z.string().max(1024),
});

/** A user, as the admin API shows it (never the password hash). */
export const user = z
  .object({
    id: z.string(),
    email: z.string(),
    name: z.string().nullable(),
    role,
    disabled: z.boolean(),
    created_at: timestamp,
    updated_at: timestamp,
    last_login_at: nullableTimestamp,
  })
  .meta({ id: 'User' });

/** Answer of a login. */
export const loginResponse = z
  .object({ user, expires_at: timestamp })
  .meta({ id: 'LoginResponse' });

/** Answer of `GET /api/v1/me`. */
export const meResponse = z
  .object({
    user,
    authenticated_by: z.enum(['session', 'token']),
    permissions: z.object({
      decide: z.boolean().meta({ description: 'May approve and deny held actions.' }),
      administer: z.boolean().meta({ description: 'May change agents, policies and users.' }),
    }),
  })
  .meta({ id: 'Me' });

/** Body of `POST /api/v1/me/password`. */
export const passwordChangeBody = z.object({
  current_password: z.string().max(1024),
  new_password: z.string().max(1024),
});

/** Body of `POST /api/v1/users`. */
export const userCreateBody = z.object({
  email: z.string().max(254),
  role,
  name: z.string().max(200).nullable().optional(),
  password: z
    .string()
    .max(1024)
    .nullable()
    .optional()
    .meta({ description: 'Leave out to generate a one-time password (returned once).' }),
});

/** Answer of a user creation or password reset. */
export const userCreatedResponse = z
  .object({
    user,
    password: z
      .string()
      .optional()
      .meta({ description: 'The generated password, shown this once; give it to the user.' }),
  })
  .meta({ id: 'UserCreated' });

/** Body of `PATCH /api/v1/users/{user_id}`. */
export const userUpdateBody = z.object({
  role: role.optional(),
  name: z.string().max(200).nullable().optional(),
  disabled: z.boolean().optional(),
});

/** An admin token (never the token itself after creation). */
export const adminToken = z
  .object({
    id: z.string(),
    user_id: z.string(),
    user_email: z.string().nullable(),
    name: z.string(),
    prefix: z.string().meta({ description: 'The first characters, to recognise it.' }),
    created_at: timestamp,
    expires_at: nullableTimestamp,
    revoked_at: nullableTimestamp,
    last_used_at: nullableTimestamp,
  })
  .meta({ id: 'AdminToken' });

/** Body of `POST /api/v1/tokens`. */
export const tokenCreateBody = z.object({
  name: z.string().max(100),
  expires_in_days: z.number().int().min(1).max(3650).nullable().optional(),
});

/** Answer of a token creation: the token, shown once. */
export const tokenCreatedResponse = z
  .object({
    token: z.string().meta({ description: 'arden_admin_…, shown this once.' }),
    admin_token: adminToken,
  })
  .meta({ id: 'AdminTokenCreated' });

export const userList = z.object({ items: z.array(user) }).meta({ id: 'UserList' });

export const tokenList = z.object({ items: z.array(adminToken) }).meta({ id: 'AdminTokenList' });
