// The pure part of `tails-launch desktop`: reading desktop entries and D-Bus
// services, splitting Exec lines as the spec (and GLib) do, and the rewrite
// with its refusals. The files themselves, found on disk, installed and
// started by GLib, are test/integration/desktop.test.ts's.
import { linkSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDesktopExec, parseDesktopExec, parseServiceExec } from '../../src/desktop/exec-line';
import { glibBoolean, parseKeyFile, serializeKeyFile } from '../../src/desktop/key-file';
import { generatedFor, headerLines } from '../../src/desktop/marker';
import { type AppFile, suspectsOf } from '../../src/desktop/find';
import { commandMatcher } from '../../src/desktop/program';
import { DesktopRefusal, rewrite, runsCommand, whatItRuns, type RewriteInput } from '../../src/desktop/rewrite';

const TOTEM = `[Desktop Entry]
Name=Videos
Name[fr]=Vidéos
Comment=Play movies
# Translators: a comment that stays
Exec=totem %U
DBusActivatable=true
Type=Application
MimeType=video/mp4;
Actions=new-window;

[Desktop Action new-window]
Name=New Window
Name[de]=Neues Fenster
Exec=totem --new-window
`;

function input(
  text: string,
  over: Partial<RewriteInput> = {},
  profile: Partial<RewriteInput['profile']> = {},
): RewriteInput {
  return {
    kind: 'entry',
    id: 'org.gnome.Totem.desktop',
    source: '/usr/share/applications/org.gnome.Totem.desktop',
    text,
    launcher: '/usr/bin/tails-launch',
    ...over,
    profile: { name: 'totem', command: '/usr/bin/totem', callerArgs: 'any', named: [], ...profile },
  };
}

const lines = (text: string) => text.split('\n');

describe('key files', () => {
  it('serialize(parse(text)) is the text, byte for byte', () => {
    for (const text of [TOTEM, TOTEM.slice(0, -1), `# head\n\n${TOTEM}\n\n`, '[A]\nk = v\n']) {
      expect(serializeKeyFile(parseKeyFile(text))).toBe(text);
    }
  });

  it("booleans as GLib's g_key_file_get_boolean reads them: true/1, false/0, trailing blanks ignored, nothing else", () => {
    for (const value of ['true', '1', 'true ', '1\t']) expect(glibBoolean(value), value).toBe(true);
    for (const value of ['false', '0', 'false  ']) expect(glibBoolean(value), value).toBe(false);
    for (const value of ['True', 'yes', 'on', '', '2', 'truex']) expect(glibBoolean(value), value).toBeNull();
  });

  it('refuses what readers may take differently: a key twice, a group twice, a stray line, a key before any group', () => {
    expect(() => parseKeyFile('[A]\nExec=a\nExec=b\n')).toThrow(/appears twice/);
    expect(() => parseKeyFile('[A]\n[A]\n')).toThrow(/appears twice/);
    expect(() => parseKeyFile('[A]\nnot a pair\n')).toThrow(/neither/);
    expect(() => parseKeyFile('Exec=a\n[A]\n')).toThrow(/before the first group/);
  });
});

describe('Exec lines', () => {
  it('splits as the spec says: quotes, the four escapes in quotes, field codes kept as written', () => {
    expect(parseDesktopExec('totem %U')).toEqual(['totem', '%U']);
    expect(parseDesktopExec('"/opt/my app/run" --x "a \\\\"b\\\\" \\\\$HOME" %%f %f')).toEqual([
      '/opt/my app/run',
      '--x',
      'a "b" $HOME',
      '%%f',
      '%f',
    ]);
    // The string escape \\s is a space before the Exec rules apply.
    expect(parseDesktopExec('prog\\sarg')).toEqual(['prog', 'arg']);
  });

  it('refuses what it would have to guess: single quotes, reserved characters unquoted, % in quotes, unknown codes', () => {
    for (const bad of [
      "prog 'a b'",
      'prog a|b',
      'prog $HOME',
      'prog "%u"',
      'prog %z',
      'prog "open',
      'prog "a"b',
      '%U',
      '',
    ])
      expect(() => parseDesktopExec(bad), bad).toThrow();
  });

  it('writes back what it read: format(parse(x)) parses to the same arguments', () => {
    for (const exec of ['totem %U', '"/opt/my app/run" --x "a \\\\"b\\\\"" %f', 'env A=1 prog --flag=%u %i %c %k']) {
      const args = parseDesktopExec(exec);
      expect(parseDesktopExec(formatDesktopExec(args))).toEqual(args);
    }
  });

  it("D-Bus Exec lines: plain words only (dbus-daemon's shell rules are not guessed at)", () => {
    expect(parseServiceExec('/usr/bin/totem --gapplication-service')).toEqual([
      '/usr/bin/totem',
      '--gapplication-service',
    ]);
    expect(() => parseServiceExec('/usr/bin/x "a b"')).toThrow(/plain word/);
    expect(() => parseServiceExec('sh -c x;y')).toThrow(/plain word/);
  });

  it('which program runs the command: the same file (device and inode), whatever its path: a hard link, a symbolic link', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tails-launch-program-'));
    try {
      writeFileSync(join(dir, 'prog'), '#!/bin/sh\n', { mode: 0o755 });
      writeFileSync(join(dir, 'other'), '#!/bin/sh\n', { mode: 0o755 });
      linkSync(join(dir, 'prog'), join(dir, 'hard'));
      symlinkSync(join(dir, 'prog'), join(dir, 'soft'));
      const runs = commandMatcher(join(dir, 'prog'), dir);
      for (const program of [join(dir, 'prog'), join(dir, 'hard'), join(dir, 'soft'), 'prog', 'soft', 'hard'])
        expect(runs(program), program).toBe(true);
      for (const program of [join(dir, 'other'), 'other', join(dir, 'missing'), 'missing', 'sh'])
        expect(runs(program), program).toBe(false);
      // A command that is not installed: its name still counts.
      expect(commandMatcher(join(dir, 'gone'), dir)('gone')).toBe(true);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('which program runs the command: the same path, or a bare name of its basename', () => {
    expect(runsCommand('totem', '/usr/bin/totem')).toBe(true);
    expect(runsCommand('/usr/bin/totem', '/usr/bin/totem')).toBe(true);
    expect(runsCommand('/usr/local/bin/totem', '/usr/bin/totem')).toBe(false);
    expect(runsCommand('/usr/bin/totem', 'totem')).toBe(true);
    expect(runsCommand('totem-video-thumbnailer', '/usr/bin/totem')).toBe(false);
  });
});

describe('rewrite: desktop entries', () => {
  it('every Exec goes through the launcher; translations, comments and other keys stay; TryExec names the real program; D-Bus activation is off', () => {
    const out = rewrite(input(TOTEM));
    expect(generatedFor(out)).toBe('totem');
    const body = lines(out).slice(2).join('\n');
    expect(body).toBe(
      TOTEM.replace('Exec=totem %U', 'Exec=/usr/bin/tails-launch totem -- %U')
        .replace('DBusActivatable=true', 'DBusActivatable=false')
        .replace('Actions=new-window;\n', 'Actions=new-window;\nTryExec=/usr/bin/totem\n')
        .replace('Exec=totem --new-window', 'Exec=/usr/bin/tails-launch totem -- --new-window'),
    );
  });

  it('keeps an existing TryExec; a launcher path with a space is quoted, one with a % has it doubled, one with both is refused', () => {
    const entry = '[Desktop Entry]\nType=Application\nName=x\nTryExec=totem\nExec=totem\n';
    const exec = (launcher: string) => /\nExec=(.*)\n/.exec(rewrite(input(entry, { launcher })))![1]!;
    expect(rewrite(input(entry))).toContain('\nTryExec=totem\n');
    expect(exec('/opt/t l/tails-launch')).toBe('"/opt/t l/tails-launch" totem --');
    expect(exec('/opt/50%/tails-launch')).toBe('/opt/50%%/tails-launch totem --');
    // The spec leaves a % inside quotes undefined: refused rather than guessed.
    expect(() => exec('/opt/t l/50%/tails-launch')).toThrow(/cannot be quoted/);
  });

  it('refuses, never half-writes: an action that runs another program, an action without Exec, no Exec, not an Application', () => {
    const refused = (text: string) => () => rewrite(input(text));
    expect(refused(TOTEM.replace('Exec=totem --new-window', 'Exec=sh -c "totem --new-window"'))).toThrow(
      /action 'new-window' runs sh, not \/usr\/bin\/totem/,
    );
    expect(refused(TOTEM.replace('Exec=totem --new-window\n', ''))).toThrow(/new-window' has no Exec/);
    expect(refused('[Desktop Entry]\nType=Application\nName=x\nDBusActivatable=true\n')).toThrow(/has no Exec/);
    expect(refused('[Desktop Entry]\nType=Link\nName=x\nURL=http://x/\n')).toThrow(/Type Link/);
    expect(refused("[Desktop Entry]\nType=Application\nName=x\nExec=totem '%U'\n")).toThrow(DesktopRefusal);
  });

  it("a profile's caller_args hold in the entry too: none takes no arguments, non-options no option", () => {
    const entry = '[Desktop Entry]\nType=Application\nName=x\nExec=totem --fullscreen %u\n';
    expect(() => rewrite(input(entry, {}, { callerArgs: 'none' }))).toThrow(/takes none/);
    expect(() => rewrite(input(entry, {}, { callerArgs: 'non-options' }))).toThrow(/option --fullscreen/);
    expect(rewrite(input(entry.replace(' --fullscreen', ''), {}, { callerArgs: 'non-options' }))).toContain(
      'Exec=/usr/bin/tails-launch totem -- %u',
    );
  });

  it('a file the profile names (desktop_files) is rewritten whatever program it runs; any other is refused', () => {
    const service = '[D-BUS Service]\nName=org.x.P\nExec=/usr/bin/scp-dbus-service\n';
    const named = input(
      service,
      { kind: 'service', id: 'org.x.P.service' },
      { name: 'printing', command: '/usr/share/x/p.py' },
    );
    expect(() => rewrite(named)).toThrow(/runs \/usr\/bin\/scp-dbus-service, not/);
    named.profile.named = ['org.x.P.service'];
    expect(rewrite(named)).toContain('\nExec=/usr/bin/tails-launch printing --\n');
  });
});

describe('rewrite: D-Bus services', () => {
  const SERVICE =
    '[D-BUS Service]\nName=org.gnome.Totem\nExec=/usr/bin/totem --gapplication-service\nSystemdService=totem.service';
  const svc = (text: string) => input(text, { kind: 'service', id: 'org.gnome.Totem.service' });

  it('Exec goes through the launcher, SystemdService goes (systemd would start the unit without it), the file ends with a newline', () => {
    const out = rewrite(svc(SERVICE));
    expect(lines(out).slice(2).join('\n')).toBe(
      '[D-BUS Service]\nName=org.gnome.Totem\nExec=/usr/bin/tails-launch totem -- --gapplication-service\n',
    );
  });

  it('refuses a system bus service (User=) and one without Exec', () => {
    expect(() => rewrite(svc(`${SERVICE}\nUser=root\n`))).toThrow(/system bus/);
    expect(() => rewrite(svc('[D-BUS Service]\nName=org.gnome.Totem\n'))).toThrow(/no Exec/);
  });
});

describe('what a file runs', () => {
  it('our rewrite runs what a second rewrite runs, comments and translations aside; the marker on the original does not make it ours', () => {
    const ours = rewrite(input(TOTEM));
    expect(whatItRuns('entry', ours)).toBe(whatItRuns('entry', rewrite(input(TOTEM.replace('Name[fr]=Vidéos\n', '')))));
    expect(whatItRuns('entry', ours)).not.toBe(whatItRuns('entry', TOTEM));
    const marked = [...headerLines('totem', '/usr/share/applications/org.gnome.Totem.desktop'), TOTEM].join('\n');
    expect(generatedFor(marked)).toBe('totem');
    expect(whatItRuns('entry', marked)).toBe(whatItRuns('entry', TOTEM));
    expect(whatItRuns('entry', ours)).not.toBe(whatItRuns('entry', marked));
    // DBusActivatable=1 is as true as true; an action of its own is another thing it runs.
    const activatable = ours.replace('DBusActivatable=false', 'DBusActivatable=1');
    expect(whatItRuns('entry', activatable)).not.toBe(whatItRuns('entry', ours));
    expect(whatItRuns('entry', activatable)).toBe(
      whatItRuns('entry', ours.replace('DBusActivatable=false', 'DBusActivatable=true')),
    );
    expect(whatItRuns('entry', `${ours}\n[Desktop Action x]\nExec=totem\n`)).not.toBe(whatItRuns('entry', ours));
    expect(whatItRuns('entry', 'not a key file')).toBeNull();
  });

  it('a service: its Exec, its bus name and SystemdService count', () => {
    const service = '[D-BUS Service]\nName=org.gnome.Totem\nExec=/usr/bin/totem --gapplication-service\n';
    const svc = { kind: 'service' as const, id: 'org.gnome.Totem.service' };
    const ours = rewrite(input(service, svc));
    expect(whatItRuns('service', ours)).toBe(
      whatItRuns('service', rewrite(input(`${service}SystemdService=x.service\n`, svc))),
    );
    expect(whatItRuns('service', `${ours}SystemdService=x.service\n`)).not.toBe(whatItRuns('service', ours));
    expect(whatItRuns('service', ours.replace('Name=org.gnome.Totem', 'Name=org.x'))).not.toBe(
      whatItRuns('service', ours),
    );
  });
});

describe('files that name the command without running it', () => {
  const file = (id: string, exec: string): AppFile => {
    const text = `[Desktop Entry]\nType=Application\nName=x\nExec=${exec}\n`;
    return { kind: 'entry', id, path: `/a/${id}`, source: `/a/${id}`, text, program: exec.split(' ')[0]! };
  };
  const runs = (program: string) => runsCommand(program, '/usr/bin/totem');

  it("are named: env, sh -c; not the command's own files, nor one the launcher runs (ours, its original gone)", () => {
    const files = [
      file('own.desktop', 'totem %U'),
      file('env.desktop', 'env A=1 totem %U'),
      file('sh.desktop', 'sh -c "exec /usr/bin/totem"'),
      file('ours.desktop', '/usr/bin/tails-launch totem -- %U'),
      file('other.desktop', 'vlc %U'),
    ];
    expect(suspectsOf(files, runs, [], '/usr/bin/tails-launch').map((f) => f.id)).toEqual([
      'env.desktop',
      'sh.desktop',
    ]);
  });
});

describe('the marker', () => {
  it('only our first line marks a file as ours; a profile name must be one', () => {
    expect(generatedFor('# Generated by tails-launch for profile totem from /x\n[Desktop Entry]\n')).toBe('totem');
    expect(generatedFor('[Desktop Entry]\n# Generated by tails-launch for profile totem from /x\n')).toBeNull();
    expect(generatedFor('# Generated by tails-launch for profile ../etc from /x\n')).toBeNull();
    expect(generatedFor('# Generated by tails-launch for profile totem from /x')).toBe('totem');
  });
});
