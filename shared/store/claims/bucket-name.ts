// The names Cloud Storage gives buckets: checked in the configuration and by the claims adapter.

/**
 * Bucket names as Cloud Storage takes them: lowercase letters, digits, `-`, `_` and dots, starting
 * and ending with a letter or digit, 3 to 63 characters (222 with dots, 63 between two), no
 * `goog` prefix and no `google` inside.
 */
export const BUCKET_NAME = /^(?=.{3,222}$)(?=[a-z0-9])(?!goog)(?!.*google)[a-z0-9_-]{1,63}(?:\.[a-z0-9_-]{1,63})*(?<=[a-z0-9])$/;
