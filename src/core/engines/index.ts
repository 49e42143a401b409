// The engine registry: the one list of engines. Adding an engine is a folder
// beside these (spec + shell module) and one line here.
import { mongodb } from './mongodb';
import { mysql } from './mysql';
import { postgres } from './postgres';
import { redis } from './redis';
import { sqlite } from './sqlite';
import type { EngineSpec } from './spec';

export type { EngineSpec } from './spec';

export const ENGINE_SPECS = [postgres, mysql, redis, mongodb, sqlite] as const;

export type Engine = (typeof ENGINE_SPECS)[number]['id'];

export const ENGINES = ENGINE_SPECS.map((s) => s.id) as readonly Engine[] as readonly [Engine, ...Engine[]];

const BY_ID = new Map<string, EngineSpec>(ENGINE_SPECS.map((s) => [s.id, s]));

export function isEngine(id: string): id is Engine {
  return BY_ID.has(id);
}

export function engineSpec(id: Engine): EngineSpec {
  const s = BY_ID.get(id);
  if (!s) throw new Error(`unknown engine ${id}`);
  return s;
}
