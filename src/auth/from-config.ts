import type { Config } from '../config.js';
import { type PreCreateHook, preCreateWebhook } from '../hooks/pre-create.js';
import { preRequestHook } from '../hooks/pre-request.js';
import { jwtAuthorizer } from './jwt.js';
import { type Authorizer, chainAuthorizers } from './types.js';

/** The standalone server's authorizer: bearer tokens, then the pre-request hook (each if configured); none: open. */
export function authorizerFromConfig(config: Config): Authorizer | undefined {
  const { jwt, preRequestHookUrl } = config.auth;
  return chainAuthorizers([
    ...(jwt ? [jwtAuthorizer(jwt)] : []),
    ...(preRequestHookUrl ? [preRequestHook(preRequestHookUrl, config.hookTimeoutMs)] : []),
  ]);
}

/** The standalone server's pre-create hook (PRE_CREATE_HOOK_URL), if configured. */
export function preCreateFromConfig(config: Config): PreCreateHook | undefined {
  return config.preCreateHookUrl ? preCreateWebhook(config.preCreateHookUrl, config.hookTimeoutMs) : undefined;
}
