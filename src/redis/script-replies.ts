import { appError } from '../errors/app-error.js';

/** The scripts that answer some outcomes with a negative number (each script's header lists them). */
type ScriptWithCodes =
  | 'recordProgress'
  | 'rewindProgress'
  | 'declareLength'
  | 'finishAssembly'
  | 'recordFailure'
  | 'setFieldsIfExists'
  | 'createByteState'
  | 'recordPart'
  | 'recordTail'
  | 'sealByteState'
  | 'truncateByteState'
  | 'retryWebhook';

/** -1 from a script that touches an upload: the upload (or its byte state) is gone: deleted or expired. */
const GONE = -1;

const gone = () => appError('UPLOAD_GONE');
const outOfOrder = (id: string) => new Error(`a part of upload ${id} was recorded out of order (another writer?)`);
const beyondSize = (id: string) => new Error(`a write recorded an offset beyond the size of upload ${id}`);

/**
 * What each script's negative replies mean, the one place they are read: the
 * error each stands for, named by the upload (or webhook entry) it is about.
 * `-1` (gone) is an error for the writes that need the upload; the callers that
 * treat a gone upload as nothing to do ask `isGone` first.
 */
const NEGATIVE_REPLIES: Readonly<Record<ScriptWithCodes, Readonly<Record<number, (subject: string) => Error>>>> = {
  recordProgress: { [-1]: gone, [-2]: beyondSize },
  rewindProgress: { [-1]: gone },
  declareLength: {
    [-1]: () => appError('UPLOAD_NOT_FOUND'),
    [-2]: () => appError('LENGTH_ALREADY_DECLARED'),
    [-3]: () => appError('LENGTH_BELOW_OFFSET'),
  },
  finishAssembly: { [-1]: gone },
  recordFailure: { [-1]: gone },
  setFieldsIfExists: { [-1]: gone },
  createByteState: { [-1]: gone },
  recordPart: { [-1]: gone, [-2]: outOfOrder },
  recordTail: { [-1]: gone, [-2]: outOfOrder },
  sealByteState: { [-1]: gone },
  truncateByteState: { [-1]: gone },
  // -1: the delivery was moved to the dead letters (not an error: the dispatcher counts it).
  retryWebhook: {},
};

/** Whether a script's reply says the upload it touches is gone. */
export const isGone = (reply: unknown): reply is typeof GONE => reply === GONE;

/** Whether retry-webhook's reply says the delivery was moved to the dead letters. */
export const wentToDeadLetters = (delay: number): boolean => delay === -1;

/**
 * A script's reply, once its negative codes are read: throws the error a code
 * of `script` stands for (see NEGATIVE_REPLIES), about `subject`; returns any
 * other reply as it is.
 */
export function checkedReply<R>(script: ScriptWithCodes, reply: R, subject: string): Exclude<R, -1 | -2 | -3> {
  const failure = typeof reply === 'number' ? NEGATIVE_REPLIES[script][reply] : undefined;
  if (failure) throw failure(subject);
  return reply as Exclude<R, -1 | -2 | -3>;
}
