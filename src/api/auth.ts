// Token comparison and the header nodes send each other. Who may do what is
// access.ts's. The comparison runs in constant time so response timing does
// not reveal the token.

import { timingSafeEqual, createHash } from "node:crypto";

const digest = (s: string) => createHash("sha256").update(s).digest();

/** Whether `given` is the expected token, compared in constant time (both hashed: equal lengths, no early exit). */
export function tokenMatches(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given.trim()), digest(expected));
}

/** The header a node sends to another with the cluster's token (none without one). */
export function bearerHeader(token: string | undefined): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}
