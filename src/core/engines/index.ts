// The engines' shell modules: each defines infrakt_db_plan, infrakt_db_prestart,
// infrakt_db_dump (and infrakt_db_snapshot where the dump goes through a file).
import type { Engine } from '../model';
import type { ShellModule } from '../remote/script';
import mongodb from './mongodb.sh';
import mysql from './mysql.sh';
import postgres from './postgres.sh';
import redis from './redis.sh';

export const ENGINE_SHELL: Record<Engine, ShellModule> = {
  postgres: { name: 'engine-postgres', text: postgres },
  mysql: { name: 'engine-mysql', text: mysql },
  redis: { name: 'engine-redis', text: redis },
  mongodb: { name: 'engine-mongodb', text: mongodb },
};
