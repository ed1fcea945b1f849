// doctor's desktop checks: whether the desktop entries and D-Bus services
// that start a profile's application go through the launcher
// (`desktop --install`). Warnings, never failures: the launcher itself
// works; but a menu or the session bus would start the application without
// it. The files are those of the session's $XDG_DATA_DIRS, as its desktop
// sees them; each is judged by what it runs (src/desktop/in-force.ts).
import { type AppFile, appFiles, filesOf, sessionSource, suspectsOf, userDataHome } from '../../desktop/find';
import { inForce, type InForce } from '../../desktop/in-force';
import { SYSTEM_PATH } from '../../desktop/program';
import { DesktopRefusal, rewrite } from '../../desktop/rewrite';
import { LAUNCHER, rewriteProfile, type Subject } from '../../desktop/subject';
import type { ResolvedProfile } from '../../profile/resolve';
import type { FileReadError } from '../../files/safe-read';
import type { CheckReport } from '../../tor/check-report';

const plural = (n: number, one: string, more: string) => (n === 1 ? one : more);

/** The profile's files as the desktop uses them; each that cannot be rewritten is a warning of its own. */
function judge(subject: Subject, own: AppFile[], id: string, report: CheckReport): InForce[] {
  const judged: InForce[] = [];
  for (const file of own) {
    let expected: string;
    try {
      expected = rewrite({ ...file, source: file.path, profile: subject, launcher: LAUNCHER });
    } catch (error) {
      if (!(error instanceof DesktopRefusal)) throw error;
      report.add(
        `${id}.refused`,
        'warn',
        `profile '${subject.name}': cannot route ${file.source} through the launcher: ${error.message}`,
        'change or remove it (tails-launch desktop cannot rewrite it), or the application starts without the launcher',
      );
      continue;
    }
    judged.push(inForce(file, userDataHome(process.env), expected));
  }
  return judged;
}

/** profile.NAME.desktop (and .other, .refused, .unreadable) for one profile. */
function checkProfile(profile: ResolvedProfile, files: AppFile[], report: CheckReport): void {
  const subject = rewriteProfile(profile, process.env.PATH ?? SYSTEM_PATH);
  if (subject === null) return;
  const id = `profile.${profile.name}.desktop`;
  const who = `profile '${profile.name}'`;
  const suspects = suspectsOf(files, subject.matches, subject.named, LAUNCHER);
  if (suspects.length)
    report.add(
      `${id}.other`,
      'warn',
      `${who}: ${suspects.map((f) => f.path).join(', ')} name${plural(suspects.length, 's', '')} ${subject.command} in an Exec line without running it as the program: ${plural(suspects.length, 'it', 'they')} may start it without the launcher`,
      'check and change or remove them; tails-launch desktop cannot rewrite them',
    );
  const own = filesOf(files, subject.matches, subject.named);
  const judged = judge(subject, own, id, report);
  for (const f of judged.filter((j) => j.status === 'unreadable'))
    report.add(
      `${id}.unreadable`,
      'warn',
      `${who}: cannot read ${f.path}: ${f.reason}: whether it starts ${subject.command} without the launcher is not known`,
      'remove it, or make it a regular file of at most 1 MiB',
    );
  const bypassing = judged.filter((j) => j.status === 'bypass');
  const through = judged.filter((j) => j.status === 'launcher');
  if (bypassing.length)
    report.add(
      id,
      'warn',
      `${who}: ${bypassing.map((f) => f.path).join(', ')} start${plural(bypassing.length, 's', '')} ${subject.command} without the launcher`,
      `tails-launch desktop --install ${profile.name}`,
    );
  else if (through.length)
    report.add(id, 'ok', `${who}: ${through.map((f) => f.file.id).join(', ')} go through the launcher`);
}

/**
 * Reads the session's files once (a file that cannot be read at all, a
 * FIFO, one over 1 MiB, no permission, is one warning of its own, and the
 * report goes on) and returns the check of one profile's.
 */
export function desktopChecks(report: CheckReport): (profile: ResolvedProfile) => void {
  const unreadable: FileReadError[] = [];
  const files = appFiles(sessionSource(process.env), (error) => unreadable.push(error));
  for (const error of unreadable)
    report.add(
      'desktop.unreadable',
      'warn',
      `cannot read ${error.message}: a desktop entry or D-Bus service there is not checked`,
      'remove it, or make it a regular file of at most 1 MiB',
    );
  return (profile) => checkProfile(profile, files, report);
}
