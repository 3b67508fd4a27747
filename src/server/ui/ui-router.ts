/**
 * `/ui`: the web UI's built files (dist/ui, see docs/ui.md) under a strict Content-Security-Policy,
 * and its sign-in API: `POST /ui/api/session {token}` exchanges an admin token for the session
 * cookie and a CSRF token, `GET /ui/api/session` tells the page who is signed in (and hands it
 * the CSRF token again after a reload), `DELETE /ui/api/session` signs out. Everything else the
 * page does goes to the admin API with the cookie (../admin/authorize.ts).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import express, { Router, type RequestHandler, type Response } from 'express';
import { GatewayError } from '../../errors';
import type { IdentityService } from '../../identity/service-types';
import type { AuthThrottle } from '../admin/authorize';
import { bodyObject, stringField } from '../admin/route';
import {
  checkCsrf,
  clearSessionCookie,
  fromSameOrigin,
  requireSession,
  setSessionCookie,
  type CookieSessionsDeps,
} from './session-auth';
import type { UiSession } from './session-store';

/** Where `npm run build` puts the UI: dist/ui at the package root, from src/ or from dist/. */
export const DEFAULT_UI_DIRECTORY = resolve(__dirname, '../../..', 'dist', 'ui');

export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

export interface UiRouterOptions extends CookieSessionsDeps {
  identity: Pick<IdentityService, 'authenticate'>;
  throttle: AuthThrottle;
  /** The built UI (index.html and assets/); default DEFAULT_UI_DIRECTORY. */
  directory?: string;
}

const securityHeaders: RequestHandler = function uiSecurityHeaders(_req, res, next) {
  res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  next();
};

export function createUiRouter(options: UiRouterOptions): Router {
  const directory = options.directory ?? DEFAULT_UI_DIRECTORY;
  const { store, identity, throttle } = options;
  const router = Router();
  router.use(securityHeaders);

  const describe = (res: Response, session: UiSession) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json({
      name: session.name,
      role: session.role,
      csrfToken: session.csrfToken,
      expiresAt: new Date(session.createdAt + store.lifetimeMs).toISOString(),
      idleMinutes: Math.round(store.idleMs / 60_000),
    });
  };

  router.post('/api/session', async function signIn(req, res) {
    if (!fromSameOrigin(req)) {
      throw new GatewayError('VEC_AUTH_FORBIDDEN', 'Sign in from the web UI of this gateway.');
    }
    const token = stringField(bodyObject(req.body), 'token', true).trim();
    const client = req.socket.remoteAddress ?? 'unknown';
    const verdict = await throttle.check(client, token);
    if (!verdict.allowed) {
      throw new GatewayError('VEC_AUTH_THROTTLED', undefined, {
        context: { retryAfter: verdict.retryAfterSeconds },
      });
    }
    const principal = await identity.authenticate(token);
    if (!principal) {
      await throttle.recordFailure(client, token);
      throw new GatewayError('VEC_AUTH_TOKEN_REJECTED');
    }
    if (principal.kind !== 'admin') {
      throw new GatewayError('VEC_AUTH_FORBIDDEN', 'Sign in with an admin token (vec_adm_…).');
    }
    const { id, session } = await store.open(principal);
    setSessionCookie(req, res, id, Math.floor(store.lifetimeMs / 1000));
    res.status(201);
    describe(res, session);
  });

  router.get('/api/session', async function whoAmI(req, res) {
    describe(res, (await requireSession(req, options)).session);
  });

  router.delete('/api/session', async function signOut(req, res) {
    const { id, session } = await requireSession(req, options);
    checkCsrf(req, session);
    await store.close(id);
    clearSessionCookie(req, res);
    res.status(204).end();
  });

  router.use('/api', function unknownUiApi(req, _res, next) {
    next(new GatewayError('VEC_ROUTE_NOT_FOUND', `No route for ${req.method} /ui/api${req.path}.`));
  });

  // Hashed file names: an asset never changes, so browsers may keep it.
  router.use(
    '/assets',
    express.static(join(directory, 'assets'), {
      immutable: true,
      maxAge: '365d',
      index: false,
    }),
    function unknownAsset(req, _res, next) {
      next(new GatewayError('VEC_ROUTE_NOT_FOUND', `No file /ui/assets${req.path}.`));
    },
  );
  router.use(express.static(directory, { index: false, maxAge: 0 }));

  // Every other page is the single-page app, which routes on the client.
  router.get(/.*/, function page(_req, res) {
    const index = join(directory, 'index.html');
    res.setHeader('Cache-Control', 'no-cache');
    if (!existsSync(index)) {
      res
        .status(503)
        .type('text/plain')
        .send('The web UI is not built: run `npm run build` and restart.\n');
      return;
    }
    res.sendFile(index);
  });
  return router;
}
