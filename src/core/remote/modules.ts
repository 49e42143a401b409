// The shell library's modules (sh/*.sh), as text. Engine modules live with
// their engine (core/engines).
import type { ShellModule } from './script';
import alert from './sh/alert.sh';
import aws from './sh/aws.sh';
import common from './sh/common.sh';
import crond from './sh/crond.sh';
import dbcheck from './sh/dbcheck.sh';
import httpclient from './sh/httpclient.sh';
import discover from './sh/discover.sh';
import list from './sh/list.sh';
import pipeline from './sh/pipeline.sh';
import probe from './sh/probe.sh';
import provision from './sh/provision.sh';
import restore from './sh/restore.sh';
import retention from './sh/retention.sh';
import s3 from './sh/s3.sh';
import s3sink from './sh/s3sink.sh';
import schedule from './sh/schedule.sh';
import scheduleAdmin from './sh/schedule-admin.sh';
import step from './sh/step.sh';
import verify from './sh/verify.sh';

const m = (name: string, text: string): ShellModule => ({ name, text });

export const SH = {
  common: m('common', common),
  pipeline: m('pipeline', pipeline),
  restore: m('restore', restore),
  aws: m('aws', aws),
  s3sink: m('s3sink', s3sink),
  s3: m('s3', s3),
  retention: m('retention', retention),
  list: m('list', list),
  schedule: m('schedule', schedule),
  scheduleAdmin: m('schedule-admin', scheduleAdmin),
  crond: m('crond', crond),
  httpclient: m('httpclient', httpclient),
  probe: m('probe', probe),
  discover: m('discover', discover),
  dbcheck: m('dbcheck', dbcheck),
  provision: m('provision', provision),
  step: m('step', step),
  alert: m('alert', alert),
  verify: m('verify', verify),
} as const;
