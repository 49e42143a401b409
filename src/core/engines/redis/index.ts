import type { EngineSpec } from '../spec';
import text from './redis.sh';

export const redis = {
  id: 'redis',
  label: 'Redis',
  location: 'network',
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
  // The RDB swap and the replication from a temporary server need the server itself.
  restoreRefusal: (t) =>
    t.mode === 'host' && !['127.0.0.1', 'localhost', '::1'].includes(t.host)
      ? `Redis restore needs the Redis server on this server itself (host ${t.host} is not 127.0.0.1/localhost)`
      : undefined,
  verify: { counts: 'keys' },
  shell: { name: 'engine-redis', text },
} as const satisfies EngineSpec;
