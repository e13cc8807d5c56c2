// Times as the status page shows them: UTC to the minute, and how far from now. Pure.

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** `2026-12-23 10:00 UTC`. */
export function formatTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** `in 3d 4h`, `in 12m`, `2h ago`: the two largest units. */
export function relativeTime(iso: string, now: Date): string {
  const ms = new Date(iso).getTime() - now.getTime();
  if (Number.isNaN(ms)) return '';
  const abs = Math.abs(ms);
  const d = Math.floor(abs / DAY);
  const h = Math.floor((abs % DAY) / HOUR);
  const m = Math.floor((abs % HOUR) / MINUTE);
  const text = d > 0 ? `${d}d${h > 0 ? ` ${h}h` : ''}` : h > 0 ? `${h}h${m > 0 ? ` ${m}m` : ''}` : `${m}m`;
  return ms >= 0 ? `in ${text}` : `${text} ago`;
}
