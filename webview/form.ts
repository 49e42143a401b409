// The settings page's form: the fields it has and the elements that show them,
// built once. The page's state and its messages to the extension are in main.ts.
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-form-group/index.js';
import '@vscode-elements/elements/dist/vscode-form-helper/index.js';
import '@vscode-elements/elements/dist/vscode-label/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import type { VscodeCheckbox } from '@vscode-elements/elements/dist/vscode-checkbox/vscode-checkbox.js';
import type { VscodeTextfield } from '@vscode-elements/elements/dist/vscode-textfield/vscode-textfield.js';
import { type S3FormField, S3_FIELD_LABELS } from '../src/shared/protocol';
import { el } from './dom';

export type TextField = 'endpointUrl' | 'bucket' | 'region' | 'accessKey' | 'secretKey' | 'prefix';
export type FlagField = 'pathStyle' | 'checksumWhenRequired';

export const TEXT_FIELDS: readonly {
  name: TextField;
  label: string;
  placeholder: string;
  required: boolean;
  help?: string;
  wide?: boolean;
}[] = [
  {
    name: 'endpointUrl',
    label: S3_FIELD_LABELS.endpointUrl,
    placeholder: 'https://s3.amazonaws.com',
    required: true,
    wide: true,
  },
  { name: 'bucket', label: S3_FIELD_LABELS.bucket, placeholder: 'my-backups', required: true },
  { name: 'region', label: S3_FIELD_LABELS.region, placeholder: 'us-east-1', required: false },
  {
    name: 'accessKey',
    label: S3_FIELD_LABELS.accessKey,
    placeholder: 'AKIAIOSFODNN7EXAMPLE',
    required: true,
  },
  { name: 'secretKey', label: S3_FIELD_LABELS.secretKey, placeholder: '', required: true },
  {
    name: 'prefix',
    label: S3_FIELD_LABELS.prefix,
    placeholder: 'infrakt/backups/',
    required: false,
    help: 'Optional path prefix for backup files in the bucket.',
    wide: true,
  },
];

export const FLAGS: readonly { name: FlagField; label: string; help: string }[] = [
  {
    name: 'pathStyle',
    label: 'Path-style addressing',
    help: 'Address the bucket as endpoint/bucket instead of bucket.endpoint. Needed by MinIO and most self-hosted storage.',
  },
  {
    name: 'checksumWhenRequired',
    label: 'Send checksums only when required',
    help: 'awscli 2.23 and later send checksum headers that Cloudflare R2 and Backblaze B2 reject; this turns them off.',
  },
];

/** Every element the page reads or changes after it is built. */
export interface SettingsForm {
  badge: HTMLElementTagNameMap['vscode-badge'];
  secretNotice: HTMLParagraphElement;
  form: HTMLFormElement;
  providerSelect: HTMLElementTagNameMap['vscode-single-select'];
  providerHint: HTMLElementTagNameMap['vscode-form-helper'];
  fields: Record<TextField, VscodeTextfield>;
  labels: Record<TextField, HTMLElement & { required: boolean }>;
  flags: Record<FlagField, VscodeCheckbox>;
  errorSlots: Record<S3FormField, HTMLElement>;
  endpointWarning: HTMLDivElement;
  saveButton: HTMLElementTagNameMap['vscode-button'];
  removeButton: HTMLElementTagNameMap['vscode-button'];
  testButton: HTMLElementTagNameMap['vscode-button'];
  testSteps: HTMLUListElement;
  statusLine: HTMLParagraphElement;
}

/** Builds the page into `app` and returns its elements. */
export function buildForm(app: HTMLElement): SettingsForm {
  const badge = el('vscode-badge', { className: 's3-state', hidden: true });
  const secretNotice = el('p', { className: 'notice', hidden: true });
  const form = el('form', { noValidate: true, ariaLabel: 'S3 Backup Storage settings' });
  const providerSelect = el('vscode-single-select', { id: 'provider' });
  const providerHint = el('vscode-form-helper', { id: 'provider-hint' });
  const fields = {} as Record<TextField, VscodeTextfield>;
  const labels = {} as Record<TextField, HTMLElement & { required: boolean }>;
  const flags = {} as Record<FlagField, VscodeCheckbox>;
  const errorSlots = {} as Record<S3FormField, HTMLElement>;
  const endpointWarning = el('div', { className: 'warning', hidden: true, role: 'note' });
  const saveButton = el('vscode-button', { type: 'submit' }, 'Save');
  const removeButton = el('vscode-button', { secondary: true, hidden: true, type: 'button' }, 'Remove');
  const testButton = el(
    'vscode-button',
    { secondary: true, hidden: true, type: 'button' },
    'Test Connection',
  );
  const testSteps = el('ul', { className: 'test-steps', hidden: true, ariaLabel: 'Test Connection steps' });
  const statusLine = el('p', { className: 'status', role: 'status', ariaLive: 'polite' });

  const errorSlot = (name: S3FormField): HTMLElement => {
    const slot = el('div', { className: 'error', id: `${name}-error`, hidden: true, ariaLive: 'polite' });
    errorSlots[name] = slot;
    return slot;
  };

  const heading = el(
    'header',
    {},
    el('h1', { id: 's3-heading' }, 'S3 Backup Storage', ' ', badge),
    el(
      'p',
      { className: 'description' },
      'Configure S3-compatible storage for off-server database backups. Works with AWS S3, DigitalOcean Spaces, Backblaze B2, and more.',
    ),
    secretNotice,
  );

  const providerGroup = el(
    'vscode-form-group',
    { variant: 'vertical', className: 'wide' },
    el('vscode-label', { htmlFor: 'provider' }, S3_FIELD_LABELS.provider),
    providerSelect,
    providerHint,
    errorSlot('provider'),
  );

  const grid = el('div', { className: 'grid' }, providerGroup);
  for (const f of TEXT_FIELDS) {
    const input = el('vscode-textfield', {
      id: f.name,
      name: f.name,
      placeholder: f.placeholder,
      type: f.name === 'secretKey' ? 'password' : 'text',
      autocomplete: 'off',
      spellcheck: false,
    });
    fields[f.name] = input;
    const label = el('vscode-label', { htmlFor: f.name, required: f.required }, f.label);
    labels[f.name] = label;
    const group = el(
      'vscode-form-group',
      { variant: 'vertical', className: f.wide ? 'wide' : '' },
      label,
      input,
      ...(f.name === 'endpointUrl' ? [endpointWarning] : []),
      errorSlot(f.name),
      ...(f.help ? [el('vscode-form-helper', {}, f.help)] : []),
    );
    grid.append(group);
  }

  const options = el('fieldset', { className: 'options' }, el('legend', {}, 'Compatibility'));
  for (const f of FLAGS) {
    const box = el('vscode-checkbox', { id: f.name, name: f.name, label: f.label });
    flags[f.name] = box;
    options.append(
      el('div', { className: 'option' }, box, el('vscode-form-helper', {}, f.help), errorSlot(f.name)),
    );
  }

  // The buttons and the status line stay at the bottom of the view while the form scrolls.
  const actions = el(
    'div',
    { className: 'actions' },
    el('div', { className: 'buttons' }, saveButton, testButton, removeButton),
    statusLine,
  );
  form.append(grid, options, testSteps, actions);
  app.replaceChildren(heading, form);

  return {
    badge,
    secretNotice,
    form,
    providerSelect,
    providerHint,
    fields,
    labels,
    flags,
    errorSlots,
    endpointWarning,
    saveButton,
    removeButton,
    testButton,
    testSteps,
    statusLine,
  };
}
