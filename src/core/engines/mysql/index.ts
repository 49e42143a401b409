import type { EngineSpec } from '../spec';
import text from './mysql.sh';

export const mysql = {
  id: 'mysql',
  label: 'MySQL / MariaDB',
  location: 'network',
  icon: 'database',
  defaultPort: 3306,
  defaultUser: 'root',
  suggestedUser: 'root',
  namedDatabases: true,
  passwordEnv: 'MYSQL_PWD',
  tools: { dump: ['mariadb-dump|mysqldump'], restore: ['mariadb|mysql'] },
  format: 'sql',
  formats: ['sql'],
  discovery: {
    image: /^(mysql|mariadb|percona(-server)?|mysql-server)/,
    tools: ['mariadb-dump', 'mysqldump', 'mariadb', 'mysql'],
  },
  createsDatabases: ['host'],
  verify: { counts: 'tables' },
  shell: { name: 'engine-mysql', text },
} as const satisfies EngineSpec;
