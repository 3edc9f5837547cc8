/**
 * The interop versions of draft-ietf-httpbis-resumable-upload this server
 * speaks, and what differs between them, each from the text of the revision
 * that changed it (docs/clients.md has the table, with which clients send
 * which version):
 * 3 = -01 (iOS 17), 4 = -02, 5 = -03 (iOS 18.0, tus-js-client 'ietf-draft-03'),
 * 6 = -04/-05 (iOS 18.1+, tus-js-client 'ietf-draft-05'), 7 = -06 to -08,
 * 8 = -09 to -11 (an iOS 26.2 simulator), 9 = -12, 10 = -13 (Apple's 2026
 * server middleware).
 */
export const INTEROP_VERSIONS = [3, 4, 5, 6, 7, 8, 9, 10] as const;
export type InteropVersion = (typeof INTEROP_VERSIONS)[number];

export type ProblemType = 'mismatching-upload-offset' | 'completed-upload' | 'inconsistent-upload-length';

export type VersionRules = Readonly<{
  version: InteropVersion;
  /** The field saying whether a request ends the upload: -01 says it inverted, as Upload-Incomplete. */
  completenessField: 'Upload-Incomplete' | 'Upload-Complete';
  /** What an append that does not say whether it ends the upload means. */
  appendWithoutCompleteness: 'complete' | 'incomplete' | 'refused';
  /** -04: appends "MUST use" the media type application/partial-upload. */
  partialUploadType: boolean;
  /** -05: offset retrieval "MUST include the Upload-Length header field [...] if one was recorded". */
  lengthOnOffset: boolean;
  /** -04: Upload-Limit (on OPTIONS, creation, offset retrieval, and rejections for a limit). */
  limits: boolean;
  /** -06: "Rename `expires` limit to `max-age`": the upload's remaining lifetime in Upload-Limit. */
  lifetimeInLimits: boolean;
  /** The problem types (RFC 9457) of the version. */
  problems: ReadonlySet<ProblemType>;
  /** -09: a field of another type "MUST cause the entire header field to be ignored" (before: refused, 400). */
  invalidFieldsIgnored: boolean;
  /** -09: during a transfer "the server SHOULD send interim responses with a 104 [...] and the Upload-Offset". */
  progressInterims: boolean;
  /** -12: offset retrieval is "a HEAD or GET request". */
  offsetByGet: boolean;
  /** -12: Upload-Complete on a response "signals whether the response comes from the initial targeted resource". */
  completeMeansFinal: boolean;
}>;

const V3: VersionRules = {
  version: 3,
  completenessField: 'Upload-Incomplete',
  // -01: complete with "the Upload-Incomplete header being omitted or set to false".
  appendWithoutCompleteness: 'complete',
  partialUploadType: false,
  lengthOnOffset: false,
  limits: false,
  lifetimeInLimits: false,
  problems: new Set(),
  invalidFieldsIgnored: false,
  progressInterims: false,
  offsetByGet: false,
  completeMeansFinal: false,
};
// -02: "An upload is considered complete only if the server [...] received a [...] request with the Upload-Complete
// header value set to true".
const V4: VersionRules = {
  ...V3,
  version: 4,
  completenessField: 'Upload-Complete',
  appendWithoutCompleteness: 'incomplete',
};
// Upload-Length on offset retrieval from 5: tus-js-client's 'ietf-draft-03' (version 5) knows an upload is complete
// only by it.
const V5: VersionRules = { ...V4, version: 5, lengthOnOffset: true };
const V6: VersionRules = {
  ...V5,
  version: 6,
  // -05: "If the end of the request content is not the end of the upload, the Upload-Complete field value [...]
  // MUST be set to false": an append without it is the end (as Apple's server takes it).
  appendWithoutCompleteness: 'complete',
  partialUploadType: true,
  limits: true,
  problems: new Set(['mismatching-upload-offset', 'completed-upload']),
};
// -06: "The request MUST include the Upload-Complete header field"; problem type inconsistent-upload-length.
const V7: VersionRules = {
  ...V6,
  version: 7,
  appendWithoutCompleteness: 'refused',
  lifetimeInLimits: true,
  problems: new Set(['mismatching-upload-offset', 'completed-upload', 'inconsistent-upload-length']),
};
const V8: VersionRules = { ...V7, version: 8, invalidFieldsIgnored: true, progressInterims: true };
// -12 removes "the completed-upload problem type" (and 410 Gone).
const V9: VersionRules = {
  ...V8,
  version: 9,
  offsetByGet: true,
  completeMeansFinal: true,
  problems: new Set(['mismatching-upload-offset', 'inconsistent-upload-length']),
};
// -13: what Apple's interop 10 middleware does differently from 9 (Upload-Limit on offset retrieval, Upload-Complete
// required on appends) this server does from 6 and 7 already.
const V10: VersionRules = { ...V9, version: 10 };

const RULES: Readonly<Record<InteropVersion, VersionRules>> = {
  3: V3,
  4: V4,
  5: V5,
  6: V6,
  7: V7,
  8: V8,
  9: V9,
  10: V10,
};

export const rulesOf = (version: InteropVersion): VersionRules => RULES[version];
