import { type Authorizer, chainAuthorizers } from '../auth/authorizer.js';
import { jwtAuthorizer } from '../auth/jwt-authorizer.js';
import { preRequestHook } from '../auth/pre-request-hook.js';
import type { Config } from '../config/load-config.js';
import { type PreCreateHook, preCreateWebhook } from '../hooks/pre-create-hook.js';

/** The standalone server's authorizer: bearer tokens, then the pre-request hook (each if configured); none: open. */
export function authorizerFromConfig(config: Config): Authorizer | undefined {
  const { jwt, preRequestHookUrl } = config.auth;
  return chainAuthorizers([
    ...(jwt ? [jwtAuthorizer(jwt)] : []),
    ...(preRequestHookUrl ? [preRequestHook(preRequestHookUrl, config.hooks.timeoutMs)] : []),
  ]);
}

/** The standalone server's pre-create hook (PRE_CREATE_HOOK_URL), if configured. */
export function preCreateFromConfig(config: Config): PreCreateHook | undefined {
  return config.hooks.preCreateUrl ? preCreateWebhook(config.hooks.preCreateUrl, config.hooks.timeoutMs) : undefined;
}
