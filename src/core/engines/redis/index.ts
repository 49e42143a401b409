import type { EngineSpec } from '../spec';
import text from './redis.sh';

export const redis = {
  id: 'redis',
  label: 'Redis',
  icon: 'symbol-key',
  defaultPort: 6379,
  defaultUser: '',
  suggestedUser: '',
  namedDatabases: false,
  passwordEnv: 'REDISCLI_AUTH',
  tools: { dump: ['redis-cli'], restore: ['redis-cli'] },
  format: 'rdb',
  formats: ['rdb'],
  discovery: { image: /^(redis|redis-stack(-server)?|valkey|keydb)/, tools: ['redis-cli', 'redis-server'] },
  shell: { name: 'engine-redis', text },
} as const satisfies EngineSpec;
