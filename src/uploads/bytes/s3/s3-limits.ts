/** S3's smallest part (all but the last) and most parts per multipart upload: with STORAGE=s3, a chunk is a part. */
export const S3_LIMITS = { minChunkBytes: 5 * 1024 * 1024, maxChunks: 10_000 } as const;
