/**
 * inject: the matched service's credential goes on the request, after every stage before it
 * said yes, and only when the request is of the service's scheme and port. Values come from
 * the secret provider right here (never cached by the pipeline) and are recorded in
 * `ctx.injectedSecrets`, so `forward` can redact them if the upstream echoes them back. A
 * vault's unmatched-host `passthrough`, like a service with the `passthrough` scheme, injects
 * nothing: the agent's own headers go upstream as sent, minus Vectra's own (Proxy-Authorization,
 * X-Vectra-*, the reverse route's Authorization), which `forward` strips.
 */
import type { SecretProvider } from '../../secrets/types';
import { servesOrigin } from '../../vault/host-pattern';
import { credentialKeys, injectCredential } from '../injection';
import { CONTINUE, type Stage } from '../types';
import { checkDependency, checkOptions } from './options';

export type InjectStageOptions = Record<string, never>;

export interface InjectStageDeps {
  secrets: Pick<SecretProvider, 'resolve'>;
}

export function createInjectStage(options: InjectStageOptions, deps: InjectStageDeps): Stage {
  checkOptions('inject', options, []);
  checkDependency('inject', deps, 'secrets', ['resolve']);
  const { secrets } = deps;

  return async function inject(ctx) {
    if (ctx.unmatched === 'passthrough') return CONTINUE;
    const { service, vault } = ctx;
    // Fail closed if the stages were assembled out of order.
    if (!service || !vault) throw new Error('inject ran before resolveService chose a service');
    // resolveService matched on scheme and port; checked again where the secret goes out.
    if (!servesOrigin(service, ctx.request)) {
      throw new Error(`service ${service.name} does not serve this request's scheme and port`);
    }
    const keys = credentialKeys(service.auth);
    const values =
      keys.length === 0 ? new Map<string, string>() : await secrets.resolve(vault, keys);
    ctx.injectedSecrets.push(...injectCredential(ctx.request, service.auth, values));
    return CONTINUE;
  };
}
