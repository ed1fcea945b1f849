// The text view of `tails-launch circuits`: each group under its heading,
// each circuit on one line (relays as NICKNAME $FINGERPRINT-PREFIX (cc)),
// its streams below it. Everything from Tor is escaped already (attribute.ts).
import type { CircuitsReport, CircuitView, RelayView } from './model';

function age(seconds: number | null): string {
  if (seconds === null) return '';
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

function relay(r: RelayView): string {
  return `${r.nickname ?? '?'} $${r.fingerprint.slice(0, 8)}${r.country ? ` (${r.country})` : ''}`;
}

function circuitLines(c: CircuitView): string[] {
  const path = c.relays.length ? c.relays.map(relay).join(' > ') : '(no relays yet)';
  const head = `  circuit ${c.id}  ${c.status}${c.ageSeconds === null ? '' : `  ${age(c.ageSeconds)}`}${c.purpose && c.purpose !== 'GENERAL' ? `  ${c.purpose}` : ''}  ${path}`;
  const streams = c.streams.map(
    (s) => `    stream ${s.id}  ${s.status}  ${s.target}${s.listener ? `  (listener ${s.listener})` : ''}`,
  );
  return [head, ...streams];
}

export function formatCircuits(report: CircuitsReport): string {
  const lines: string[] = [];
  for (const group of report.groups) {
    lines.push(group.label, ...group.circuits.flatMap(circuitLines), '');
  }
  const circuits = report.groups.reduce((n, g) => n + g.circuits.length, 0);
  const streams = report.groups.reduce((n, g) => n + g.circuits.reduce((m, c) => m + c.streams.length, 0), 0);
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  lines.push(
    `${plural(report.groups.length, 'group')}, ${plural(circuits, 'circuit')}, ${plural(streams, 'stream')} (Tor${report.tor ? ` ${report.tor}` : ''}, ${report.time.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')})`,
  );
  return `${lines.join('\n')}\n`;
}
