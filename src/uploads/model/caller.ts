/** What one owner may do (0: no limit). */
type OwnerLimits = Readonly<{ maxSizeBytes: number; maxConcurrentUploads: number }>;

/** Who a request comes from, once authorized, and what they may do. */
export type Caller = Readonly<{ owner: string | undefined; limits: OwnerLimits }>;
