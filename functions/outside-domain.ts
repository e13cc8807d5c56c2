// functions-framework runs every request, HTTP or CloudEvent, inside a `node:domain`, to answer a
// 500 for an error thrown where nothing catches it. An active domain tags every promise and
// async resource made under it through async hooks, which cost a create on the embedded defaults
// about 25 ms here (most of what HTTP added; docs/benchmarks.md). meshlink's handlers catch their
// own errors (the API answers them as JSON, an event function rethrows what Pub/Sub should
// redeliver) and make promises, not callbacks that throw, so their work runs outside the domain.
// HTTP functions run in none at all (framework-errors.ts): the first domain made turns the hooks
// on for every promise of the process; event functions still run in the framework's.
import type { Domain } from 'node:domain';

/** Runs `work` with no active domain, and leaves the caller's domain active again. */
export function outsideDomain<T>(work: () => Promise<T>): Promise<T> {
  const active = (process as { domain?: Domain | null }).domain;
  if (!active) return work();
  active.exit();
  try {
    return work();
  } finally {
    active.enter();
  }
}
