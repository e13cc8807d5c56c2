// The link lease: a run that keeps saving keeps its lease, so a second worker cannot take the
// link half-way through a long run; a save that changes nothing writes nothing, lease included.
import { describe, expect, it } from 'vitest';
import { loadLink, withLease } from '../../shared/app/link-record.js';
import { applyLink } from '../../shared/app/provision.js';
import { specInput } from '../support/builders.js';
import { storeWrites, testApp } from '../support/app.js';

describe('withLease', () => {
  it('extends the lease on each save, so another worker waits for the run to end', async () => {
    const app = testApp();
    await applyLink(app.deps, specInput());
    const lease = app.deps.settings.leaseMs;
    const other = { ...app.deps, workerId: 'other' };

    await withLease(app.deps, (await loadLink(app.deps, 'mysql'))!, async (r) => {
      const firstUntil = Date.parse(r.state.lease!.until);
      app.clock.advance(lease - 1000); // a long step
      r.state = { ...r.state, lastError: 'a step that took long' };
      await r.save();
      expect(Date.parse(r.state.lease!.until)).toBe(app.clock().getTime() + lease);
      app.clock.advance(2000); // past the first deadline, within the extended one
      expect(app.clock().getTime()).toBeGreaterThan(firstUntil);
      await expect(withLease(other, (await loadLink(other, 'mysql'))!, async () => 'taken')).rejects.toMatchObject({ code: 'conflict' });
    });
    // Released at the end: the other worker gets it at once.
    expect(await withLease(other, (await loadLink(other, 'mysql'))!, async () => 'taken')).toBe('taken');
  });

  it('a save that changes nothing writes nothing, not even a longer lease', async () => {
    const app = testApp();
    await applyLink(app.deps, specInput());
    await withLease(app.deps, (await loadLink(app.deps, 'mysql'))!, async (r) => {
      const before = storeWrites(app.store);
      app.clock.advance(60_000);
      await r.save();
      expect(storeWrites(app.store)).toBe(before);
    });
  });
});
