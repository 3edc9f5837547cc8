/**
 * Every error a client can be answered with, listed once: a stable code, one
 * status, when it happens, and the message (a person can act on it). Call
 * sites name the error (`appError('UPLOAD_LOCKED')`); they never build one.
 * docs/errors.md is generated from this list (a test compares them).
 */
import { DRAFT_ERRORS } from './draft-errors.js';
import { REQUEST_ERRORS } from './request-errors.js';
import { SERVICE_ERRORS } from './service-errors.js';

export const ERROR_REGISTRY = { ...REQUEST_ERRORS, ...DRAFT_ERRORS, ...SERVICE_ERRORS } as const;

export type ErrorCode = keyof typeof ERROR_REGISTRY;
export type ErrorParams<C extends ErrorCode> = Parameters<(typeof ERROR_REGISTRY)[C]['message']>;
