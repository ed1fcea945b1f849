// Where the accessibility bus is (edge: looks at the runtime directory). The
// caller's AT_SPI_BUS_ADDRESS first; else the socket at-spi-bus-launcher
// makes (at-spi2-core 2.46+: $XDG_RUNTIME_DIR/at-spi/bus_N for X11 display
// :N, at-spi/bus otherwise). Null: no bus, the application runs without.
import { statSync } from 'node:fs';
import { x11Display } from './sandbox';

const isSocket = (path: string) => {
  try {
    return statSync(path).isSocket();
  } catch {
    return false;
  }
};

export function findA11yBus(
  env: Readonly<Record<string, string | undefined>>,
  runtimeDir: string | null,
): string | null {
  const given = env.AT_SPI_BUS_ADDRESS;
  if (given && /^unix:/.test(given)) return given;
  if (runtimeDir === null) return null;
  const n = x11Display(env.DISPLAY);
  for (const name of [...(n === null ? [] : [`bus_${n}`]), 'bus']) {
    const path = `${runtimeDir}/at-spi/${name}`;
    if (isSocket(path)) return `unix:path=${path}`;
  }
  return null;
}
