// Provider presets for the S3 settings page. Choosing one fills the endpoint
// pattern and a default region, and sets the compatibility options the
// provider needs with awscli on the server (path-style addressing; the
// `when_required` checksum settings that R2 and B2 need since awscli 2.23,
// which otherwise sends CRC checksum headers they reject).
import type { S3Provider } from './settings';

export interface S3Preset {
  id: S3Provider;
  label: string;
  /** Endpoint URL; `<region>` is filled from the region, other `<...>` parts are the user's to replace. */
  endpoint: string;
  region: string;
  pathStyle: boolean;
  checksumWhenRequired: boolean;
  /** One line shown under the select: where to find the values. */
  hint: string;
}

export const S3_PRESETS: readonly S3Preset[] = [
  {
    id: 'aws',
    label: 'AWS S3',
    endpoint: 'https://s3.<region>.amazonaws.com',
    region: 'us-east-1',
    pathStyle: false,
    checksumWhenRequired: false,
    hint: 'Use the region your bucket was created in.',
  },
  {
    id: 'r2',
    label: 'Cloudflare R2',
    endpoint: 'https://<ACCOUNT_ID>.r2.cloudflarestorage.com',
    region: 'auto',
    pathStyle: false,
    checksumWhenRequired: true,
    hint: 'Replace <ACCOUNT_ID> with your Cloudflare account ID (R2 → Overview). Region is "auto".',
  },
  {
    id: 'b2',
    label: 'Backblaze B2',
    endpoint: 'https://s3.<region>.backblazeb2.com',
    region: 'us-west-004',
    pathStyle: false,
    checksumWhenRequired: true,
    hint: 'The region is part of the bucket’s S3 endpoint shown in B2 → Buckets (e.g. us-west-004).',
  },
  {
    id: 'spaces',
    label: 'DigitalOcean Spaces',
    endpoint: 'https://<region>.digitaloceanspaces.com',
    region: 'nyc3',
    pathStyle: false,
    checksumWhenRequired: false,
    hint: 'The region is the datacenter of the Space (nyc3, ams3, fra1, sgp1, ...).',
  },
  {
    id: 'wasabi',
    label: 'Wasabi',
    endpoint: 'https://s3.<region>.wasabisys.com',
    region: 'us-east-1',
    pathStyle: false,
    checksumWhenRequired: false,
    hint: 'Use the region of the bucket (us-east-1, eu-central-1, ap-northeast-1, ...).',
  },
  {
    id: 'hetzner',
    label: 'Hetzner Object Storage',
    endpoint: 'https://<region>.your-objectstorage.com',
    region: 'fsn1',
    pathStyle: false,
    checksumWhenRequired: false,
    hint: 'The region is the location of the bucket (fsn1, nbg1, hel1).',
  },
  {
    id: 'minio',
    label: 'MinIO',
    endpoint: 'https://<MINIO_HOST>:9000',
    region: 'us-east-1',
    pathStyle: true,
    checksumWhenRequired: false,
    hint: 'Replace <MINIO_HOST> with your MinIO API host as the database server reaches it. MinIO uses path-style addressing.',
  },
  {
    id: 'other',
    label: 'Other S3-compatible',
    endpoint: '',
    region: '',
    pathStyle: false,
    checksumWhenRequired: false,
    hint: 'Any S3-compatible endpoint (Ceph, Garage, SeaweedFS, ...). Turn on path-style if the provider has no per-bucket hostnames.',
  },
];

export function presetById(id: string): S3Preset | undefined {
  return S3_PRESETS.find((p) => p.id === id);
}

/** The endpoint a preset proposes for a region; `<region>` is filled, other placeholders stay. */
export function presetEndpoint(preset: S3Preset, region: string): string {
  const r = region.trim() || preset.region;
  return r ? preset.endpoint.replaceAll('<region>', r) : preset.endpoint;
}

/** Placeholders such as `<ACCOUNT_ID>` still in an endpoint the user is about to save. */
export function unfilledPlaceholders(endpoint: string): string[] {
  return [...endpoint.matchAll(/<([A-Za-z_]+)>/g)].map((m) => `<${m[1]}>`);
}
