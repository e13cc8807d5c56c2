// `meshlink describe link NAME`: a link's status in words: both sides, expiry and renewal
// times, CA generations, phase, last sync, last error and last probe. Pure: the time is a parameter.
import type { LinkStatus, SideStatus } from '../app/status.js';
import { probeCheck } from './checks.js';
import { when } from './format.js';

const SIDES = ['client', 'server'] as const;

function block(rows: [string, string | undefined][], indent: string): string[] {
  const present = rows.filter((r): r is [string, string] => r[1] !== undefined);
  const width = Math.max(...present.map(([k]) => k.length)) + 2;
  return present.map(([k, v]) => `${indent}${`${k}:`.padEnd(width)}${v}`);
}

const gens = (list: number[] | undefined) => (list && list.length ? list.join(', ') : 'none');

/** A side the partner runs: who it is, its CAs, and what it must trust (nothing of ours to sync there). */
function partnerSide(p: NonNullable<SideStatus['partner']>, now: Date): [string, string | undefined][] {
  return [
    ['Partner', p.name],
    ['Pinned', p.subjectAltNames.join(', ')],
    ['Partner CAs', p.caCertificates.map((ca) => `${ca.subject} expires ${when(ca.notAfter, now)}`).join('; ')],
    ['Must trust', `CA generations ${gens(p.mustTrust)} (GET /links/{name}/ca.pem)`],
    ['Trust next CA by', p.trustNextCaBy ? when(p.trustNextCaBy, now) : undefined],
  ];
}

function side(s: SideStatus, now: Date): [string, string | undefined][] {
  if (s.partner) return partnerSide(s.partner, now);
  const secret = s.clusterSecret ?? {};
  const sync = s.sync?.status ?? 'unknown';
  return [
    ['Cluster', s.cluster],
    ['Namespace', s.namespace],
    ['Credential', s.credentialName],
    ['Address', s.address],
    ['Certificate', s.notAfter ? `expires ${when(s.notAfter, now)}` : 'none issued yet'],
    ['Renews', s.renewAt ? when(s.renewAt, now) : undefined],
    ['Fingerprint', s.fingerprint],
    ['Signed by', s.caGeneration !== undefined ? `CA generation ${s.caGeneration}` : undefined],
    ['Trusts', `CA generations ${gens(s.trustedCaGenerations)}`],
    ['Sync', sync],
    ['Last sync', secret.lastSync ? when(secret.lastSync, now) : 'never'],
    [
      'Cluster holds',
      secret.version !== undefined ? `version ${secret.version}: presents CA generation ${secret.caGeneration ?? '?'}, trusts ${gens(secret.trustedCaGenerations)}` : 'nothing yet',
    ],
    ['Last error', secret.lastError ?? s.sync?.error ?? 'none'],
  ];
}

function nextStep(next: LinkStatus['rotation']['next'], now: Date): string {
  if (!next) return 'none';
  if (next.step === 'done') return `nothing to do until ${when(next.at, now)}: ${next.reason}`;
  if (next.step === 'wait') return `waiting until ${when(next.at, now)}: ${next.reason}`;
  if (next.step === 'blocked') return `blocked: ${next.reason}`;
  return `${next.step}, due now: ${next.reason}`;
}

export function describeLink(link: LinkStatus, now: Date): string {
  const lines: string[] = [];
  lines.push(
    ...block(
      [
        ['Name', link.name],
        ['Host', link.host],
        ['Protocol', link.protocol],
        ['Phase', `${link.phase} since ${when(link.rotation?.phaseSince, now)}`],
        ['Next renewal', link.nextRenewal ? when(link.nextRenewal, now) : 'none scheduled'],
        ['Last error', link.lastError ?? 'none'],
        ['Probe', probeCheck(link, now).message],
        ['Created', when(link.createdAt, now)],
        ['Updated', when(link.updatedAt, now)],
      ],
      '',
    ),
  );
  for (const name of SIDES) {
    lines.push(`${name === 'client' ? 'Client' : 'Server'} side:`, ...block(side(link[name], now), '  '));
  }
  lines.push('CA generations:');
  if (link.ca.length === 0) lines.push('  none');
  for (const ca of link.ca) {
    lines.push(`  ${ca.generation}${ca.signing ? ' (signing)' : ''}: expires ${when(ca.notAfter, now)}, renews ${when(ca.renewAt, now)}`, `     fingerprint ${ca.fingerprint}`);
  }
  const r = link.rotation;
  lines.push('Rotation:');
  lines.push(
    ...block(
      [
        ['Signing CA', `generation ${r.signingGeneration}`],
        ['Next step', nextStep(r.next, now)],
        ['Forced', r.forced ? [r.forced.leaf ? `leaf rotation since ${when(r.forced.leaf.at, now)}` : '', r.forced.ca ? `CA rollover to generation ${r.forced.ca.generation} since ${when(r.forced.ca.at, now)}` : ''].filter(Boolean).join('; ') : undefined],
        ['Retired versions', String(r.retiredVersions)],
        ['Warning', r.warning],
      ],
      '  ',
    ),
  );
  lines.push(`Pending cleanup:${link.pendingCleanup?.length ? '' : ' none'}`);
  for (const p of link.pendingCleanup ?? []) {
    lines.push(p.what === 'objects' ? `  ${p.side} objects in ${p.cluster}/${p.namespace}` : `  port on Service ${p.cluster}/${p.namespace}/${p.service}`);
  }
  return lines.join('\n') + '\n';
}
