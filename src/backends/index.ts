import type { Backend } from './backend';
import type { BackendName } from '../vocabulary/modes';
import { envBackend } from './env';
import { ownSettingBackend } from './own-setting';
import { proxychainsBackend } from './proxychains';
import { torsocksBackend } from './torsocks';

export const BACKENDS: Record<BackendName, Backend> = {
  torsocks: torsocksBackend,
  env: envBackend,
  proxychains: proxychainsBackend,
  'own-setting': ownSettingBackend,
};
