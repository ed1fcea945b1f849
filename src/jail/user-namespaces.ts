// Whether this process may make user namespaces (a user jail needs them):
// the kernel's knobs, read once per jailed launch. Null: allowed.
import { readFileSync } from 'node:fs';

function knob(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

export function userNamespaceProblem(uid: number): string | null {
  if (knob('/proc/sys/user/max_user_namespaces') === '0')
    return 'user namespaces are off (user.max_user_namespaces = 0)';
  if (uid === 0) return null;
  // Debian's own patch (before Linux 6.x dropped it from Debian's kernel).
  if (knob('/proc/sys/kernel/unprivileged_userns_clone') === '0')
    return 'unprivileged user namespaces are off (kernel.unprivileged_userns_clone = 0)';
  // Ubuntu's AppArmor restriction: bubblewrap would need a profile of its own.
  if (knob('/proc/sys/kernel/apparmor_restrict_unprivileged_userns') === '1')
    return 'AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1)';
  return null;
}
