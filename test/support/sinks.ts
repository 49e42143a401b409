// Stub sinks for pipeline tests: a module whose functions run the given shell
// text (the run command is exec-ed, as a real sink's must be).
import type { Sink } from '../../src/core/backup/backupScript';

export interface SinkParts {
  id: string;
  /** One simple command reading the stream on stdin. */
  run: string;
  check?: string;
  after?: string;
  abort?: string;
  sweep?: string;
  stallSeconds?: number;
}

export function commandSink(p: SinkParts): Sink {
  const fn = (name: string, body: string | undefined) =>
    body === undefined ? '' : `infrakt_sink_${p.id}_${name}() {\n  ${body}\n}\n`;
  return {
    id: p.id,
    modules: [
      {
        name: `test-sink-${p.id}`,
        text: [
          fn('run', `exec ${p.run}`),
          fn('check', p.check),
          fn('after', p.after),
          fn('abort', p.abort),
          fn('sweep', p.sweep),
        ].join(''),
      },
    ],
    stallSeconds: p.stallSeconds,
  };
}
