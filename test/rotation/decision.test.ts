// The renewal decision as a table: each reason a credential is due, the two-thirds boundary,
// renewBefore (duration, percentage, invalid, longer than the lifetime) and clock skew.
import { describe, expect, it } from 'vitest';
import { caPolicy, firstViolation, leafPolicy, type LeafCheckInput } from '../../shared/rotation/checks.js';
import type { LeafFacts } from '../../shared/rotation/facts.js';
import { DEFAULT_ROTATION_SETTINGS, planNextStep } from '../../shared/rotation/plan.js';
import { nextRenewal, renewalTime } from '../../shared/rotation/renewal.js';
import { ca, DAY, HOST, identity, leaf, payload, stableFacts, T0, at, validity } from '../support/rotation-facts.js';

const SKEW = DEFAULT_ROTATION_SETTINGS.maxClockSkewMs;

function input(l: LeafFacts | undefined, overrides: Partial<LeafCheckInput> = {}): LeafCheckInput {
  return { side: 'server', host: HOST, identity: identity('server'), signingGeneration: 1, expectedTrust: [1], ...(l ? { leaf: l } : {}), ...overrides };
}

const fresh = () => leaf('server', 1, T0, 30 * DAY, { payload: payload('server') });

describe('leaf policy chain', () => {
  const cases: [string, LeafFacts | undefined, Partial<LeafCheckInput>, Date, string | undefined][] = [
    ['a fresh certificate is not due', fresh(), {}, at(DAY), undefined],
    ['a missing credential', undefined, {}, at(DAY), 'CredentialMissing'],
    ['a forced rotation of this certificate', leaf('server', 1, T0, 30 * DAY, { fingerprint: 'fp-1' }), { forcedFingerprint: 'fp-1' }, at(DAY), 'Forced'],
    ['a forced rotation of an earlier certificate', leaf('server', 1, T0, 30 * DAY, { fingerprint: 'fp-2' }), { forcedFingerprint: 'fp-1' }, at(DAY), undefined],
    ['a key that does not match the certificate', leaf('server', 1, T0, 30 * DAY, { payload: payload('server', { keyMatches: false }) }), {}, at(DAY), 'KeyMismatch'],
    ['a certificate for another host', leaf('server', 1, T0, 30 * DAY, { payload: payload('server', { dnsNames: ['other.example.com'] }) }), {}, at(DAY), 'WrongHost'],
    ['a certificate without the side identity', leaf('server', 1, T0, 30 * DAY, { payload: payload('server', { uris: [identity('client')] }) }), {}, at(DAY), 'WrongIdentity'],
    ['a record naming another CA generation', leaf('server', 1), { signingGeneration: 2, expectedTrust: [1, 2] }, at(DAY), 'NotIssuedBySigningCa'],
    ['a payload that does not chain to the signing CA', leaf('server', 1, T0, 30 * DAY, { payload: payload('server', { issuedBy: [] }) }), {}, at(DAY), 'NotIssuedBySigningCa'],
    ['an expired certificate', leaf('server'), {}, at(30 * DAY), 'Expired'],
    ['a certificate at two thirds of its life', leaf('server'), {}, at(20 * DAY), 'NearingExpiry'],
    ['a ca.crt without a CA of the phase', leaf('server'), { expectedTrust: [1, 2], signingGeneration: 1 }, at(DAY), 'TrustMismatch'],
    ['a stored ca.crt with a foreign CA', leaf('server', 1, T0, 30 * DAY, { payload: payload('server', { foreignTrust: 1 }) }), {}, at(DAY), 'TrustMismatch'],
    ['a stored ca.crt that differs from the record', leaf('server', 1, T0, 30 * DAY, { payload: payload('server', { trust: [1, 2] }) }), {}, at(DAY), 'TrustMismatch'],
    // Clock skew: a certificate issued by a machine whose clock runs 7 minutes ahead has a
    // notBefore 2 minutes in the future despite the 5 minutes of back-dating: not due, not broken.
    ['a notBefore slightly ahead (clock skew)', { ...leaf('server', 1, at(7 * 60_000)), payload: payload('server') }, {}, T0, undefined],
    ['a notBefore ahead by more than the skew tolerance', leaf('server', 1, at(SKEW + 6 * 60_000)), {}, T0, 'NotYetValid'],
  ];
  it.each(cases)('%s', (_name, l, overrides, now, reason) => {
    expect(firstViolation(leafPolicy(now, SKEW), input(l, overrides))?.reason).toBe(reason);
  });

  it.each<[string, Partial<NonNullable<LeafFacts['payload']>>, Date, string]>([
    ['a key mismatch over expiry', { keyMatches: false }, at(31 * DAY), 'KeyMismatch'],
    ['a wrong host over nearing expiry', { dnsNames: [] }, at(25 * DAY), 'WrongHost'],
    ['expiry over a trust mismatch', {}, at(31 * DAY), 'Expired'],
  ])('the first violation wins: %s', (_name, p, now, reason) => {
    const l = leaf('server', 1, T0, 30 * DAY, { payload: payload('server', p), trust: [7] });
    expect(firstViolation(leafPolicy(now, SKEW), input(l))?.reason).toBe(reason);
  });
});

describe('renewal time', () => {
  const { notBefore, notAfter } = validity(T0, 30 * DAY);
  it.each([
    ['default: two thirds of the lifetime from issuance', undefined, at(20 * DAY)],
    ['a duration before expiry', '10d', at(20 * DAY)],
    ['a shorter duration', '5d', at(25 * DAY)],
    ['a percentage of the lifetime', '50%', at(15 * DAY)],
    ['a duration longer than the lifetime is ignored', '40d', at(20 * DAY)],
    ['a duration equal to the lifetime is ignored', '30d', at(20 * DAY)],
    ['an invalid value is ignored', 'soon', at(20 * DAY)],
    ['zero percent is ignored', '0%', at(20 * DAY)],
  ])('%s', (_name, renewBefore, expected) => {
    expect(renewalTime(notBefore, notAfter, renewBefore)).toEqual(expected);
  });

  it('is due exactly at two thirds, not a millisecond before', () => {
    const l = leaf('server');
    expect(firstViolation(leafPolicy(at(20 * DAY - 1), SKEW), input(l))).toBeUndefined();
    expect(firstViolation(leafPolicy(at(20 * DAY), SKEW), input(l))?.reason).toBe('NearingExpiry');
  });

  it('does not count the back-dating as lifetime (a 1m leaf is not due when issued)', () => {
    const short = validity(T0, 60_000);
    expect(renewalTime(short.notBefore, short.notAfter)).toEqual(at(40_000));
  });

  it('takes the earliest of both leaves and the newest CA, not a CA being replaced', () => {
    const state = {
      leaves: {
        server: { notBefore: validity(T0, 30 * DAY).notBefore.toISOString(), notAfter: at(30 * DAY).toISOString() },
        client: { notBefore: validity(at(DAY), 30 * DAY).notBefore.toISOString(), notAfter: at(31 * DAY).toISOString() },
      },
      cas: [
        { generation: 1, notBefore: validity(at(-300 * DAY), 365 * DAY).notBefore.toISOString(), notAfter: at(65 * DAY).toISOString() },
        { generation: 2, notBefore: validity(T0, 365 * DAY).notBefore.toISOString(), notAfter: at(365 * DAY).toISOString() },
      ],
      signingGeneration: 1,
    } as unknown as Parameters<typeof nextRenewal>[0];
    expect(nextRenewal(state)).toEqual(at(20 * DAY));
  });
});

describe('CA policy', () => {
  it.each([
    ['a fresh CA', ca(1), at(DAY), undefined],
    ['no CA', undefined, at(DAY), 'CaMissing'],
    ['a CA at two thirds', ca(1), at(Math.floor((365 * DAY * 2) / 3)), 'CaNearingExpiry'],
    ['an expired CA', ca(1), at(365 * DAY), 'CaExpired'],
  ])('%s', (_name, c, now, reason) => {
    expect(firstViolation(caPolicy(now), c)?.reason).toBe(reason);
  });

  const under = (origin: { issuer?: string; issuing?: string; anchors: string[] }) => ({ ...ca(1), ...origin });
  const target = { name: 'corp', issuing: 'i1', root: 'r1' };
  it.each([
    ['self-signed, no issuer', ca(1), undefined, undefined],
    ['under the issuer as imported', under({ issuer: 'corp', issuing: 'i1', anchors: ['r1'] }), target, undefined],
    ['recorded before its issuing CA was kept, same root', under({ anchors: ['r1'] }), target, undefined],
    ['the issuer known by name only', under({ issuer: 'corp', issuing: 'i1', anchors: ['r1'] }), { name: 'corp' }, undefined],
    ['self-signed, now under an issuer', ca(1), target, 'IssuerChanged'],
    ['under an issuer, now self-signed', under({ issuer: 'corp', issuing: 'i1', anchors: ['r1'] }), undefined, 'IssuerChanged'],
    ['under another issuer', under({ issuer: 'old', issuing: 'i1', anchors: ['r1'] }), target, 'IssuerChanged'],
    ['the issuer moved to another root', under({ issuer: 'corp', issuing: 'i0', anchors: ['r0'] }), target, 'IssuerChanged'],
    ['the issuer has a new issuing CA, same root', under({ issuer: 'corp', issuing: 'i0', anchors: ['r1'] }), target, 'IssuerChanged'],
  ])('issuer: %s', (_name, c, issuer, reason) => {
    expect(firstViolation(caPolicy(at(DAY), issuer), c)?.reason).toBe(reason);
  });
});

describe('planNextStep on a stable link', () => {
  const S = DEFAULT_ROTATION_SETTINGS;
  it('does nothing until the first renewal, and says when', () => {
    expect(planNextStep(stableFacts(), at(DAY), S)).toEqual({ kind: 'done', until: at(20 * DAY), reason: 'renewal' });
  });

  it('issues the due leaf, then syncs it, then is done', () => {
    const f = stableFacts({ leaves: { server: leaf('server', 1, at(-21 * DAY)), client: leaf('client') } });
    expect(planNextStep(f, T0, S)).toMatchObject({ kind: 'issue-leaf', side: 'server', trust: [1], reason: expect.stringMatching(/^NearingExpiry/) });
  });

  it('puts a broken leaf before a CA rollover, and a CA rollover before a leaf that is merely due', () => {
    const caDue = [ca(1, at(-300 * DAY))];
    const broken = stableFacts({ cas: caDue, leaves: { server: leaf('server', 1, at(-31 * DAY)), client: leaf('client') } });
    expect(planNextStep(broken, T0, S)).toMatchObject({ kind: 'issue-leaf', side: 'server', reason: expect.stringMatching(/^Expired/) });
    const due = stableFacts({ cas: caDue, leaves: { server: leaf('server', 1, at(-21 * DAY)), client: leaf('client') } });
    expect(planNextStep(due, T0, S)).toMatchObject({ kind: 'mint-ca', generation: 2, reason: expect.stringMatching(/^CaNearingExpiry/) });
  });

  it('starts a new CA at once when the CA expired (nothing can be issued from it)', () => {
    const f = stableFacts({ cas: [ca(1, at(-366 * DAY))], leaves: { server: leaf('server', 1, at(-31 * DAY)), client: leaf('client', 1, at(-31 * DAY)) } });
    expect(planNextStep(f, T0, S)).toMatchObject({ kind: 'mint-ca', generation: 2, reason: expect.stringMatching(/^CaExpired/) });
  });

  it('waits for a failed cluster until the retry time, then syncs it', () => {
    const f = stableFacts();
    f.leaves.server = { ...f.leaves.server!, version: '2' };
    f.clusters.server = { ...f.clusters.server, status: 'error', at: at(DAY) };
    expect(planNextStep(f, at(DAY + 1000), S)).toEqual({ kind: 'wait', until: at(DAY + S.syncRetryMs), reason: 'sync-retry(server)' });
    expect(planNextStep(f, at(DAY + S.syncRetryMs), S)).toMatchObject({ kind: 'sync', side: 'server' });
  });

  it('refuses a sync that would present a certificate the peer does not trust', () => {
    const f = stableFacts({ cas: [ca(1), ca(2)], signingGeneration: 2, phase: 'trust-added' });
    // Both leaves were switched in the store, but neither cluster was ever given trust in 2.
    f.leaves.server = { ...leaf('server', 2), version: '2', trust: [1, 2] };
    f.leaves.client = { ...leaf('client', 2), version: '2', trust: [1, 2] };
    expect(planNextStep(f, at(DAY), S)).toMatchObject({ kind: 'blocked' });
  });
});
