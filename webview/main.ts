// The "S3 Backup Storage" settings page (browser side). It shows the stored
// settings (never the secret), validates as you type by asking the extension
// (one set of zod rules, in src/core), and keeps unsaved input — but never the
// secret — in the webview state, so hiding the tab loses nothing.
import * as z from 'zod/mini';
import {
  type FieldErrorMap,
  type PresetView,
  type S3Draft,
  type S3FormField,
  type S3FormFields,
  type SettingsView,
  type ToExtension,
  type ToWebview,
  parseMessage,
  toWebview,
} from '../src/shared/protocol';
import {
  type DraftField,
  EMPTY_DRAFT,
  applyPreset,
  draftFrom,
  endpointForRegion,
  mergeDraft,
  pageState,
  placeholderRange,
  secretPlaceholder,
  secretRequired,
  statusBadge,
} from '../src/shared/s3Form';
import { buildAlerts } from './alerts';
import { el } from './dom';
import { FLAGS, type FlagField, TEXT_FIELDS, type TextField, buildForm } from './form';

// The CSP has no 'unsafe-eval': tell zod not to try compiling parsers with `new Function`.
z.config({ jitless: true });

interface VsCodeApi {
  postMessage(message: ToExtension): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;
const vscode = acquireVsCodeApi();

// ---- page state -------------------------------------------------------------

let settings: SettingsView = { configured: false };
/** The chosen provider; kept here because the select has no options until `init`. */
let provider = EMPTY_DRAFT.provider;
let presets: PresetView[] = [];
let initialised = false;
const edited = new Set<DraftField>();
/** Fields whose error is shown: blurred once, or all of them after a save. */
const touched = new Set<S3FormField>();
let errors: FieldErrorMap = {};
let seq = 0;
let saving = false;
let validateTimer: ReturnType<typeof setTimeout> | undefined;
/** The test whose steps are on the page (its time), while they still describe the stored settings. */
let shownTestAt: string | undefined;
/** The presets the select was built from: rebuilding its options drops its selection. */
let presetsShown = '';
// ---- DOM --------------------------------------------------------------------

const app = document.getElementById('app') ?? document.body;
const {
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
} = buildForm(app);
let testing = false;
const alerts = buildAlerts((m) => vscode.postMessage(m));
app.append(alerts.element);

// ---- reading and writing the form -------------------------------------------

function readDraft(): S3Draft {
  return {
    provider,
    endpointUrl: fields.endpointUrl.value,
    bucket: fields.bucket.value,
    region: fields.region.value,
    accessKey: fields.accessKey.value,
    prefix: fields.prefix.value,
    pathStyle: flags.pathStyle.checked,
    checksumWhenRequired: flags.checksumWhenRequired.checked,
  };
}

function readForm(): S3FormFields {
  return { ...readDraft(), secretKey: fields.secretKey.value };
}

function writeDraft(d: S3Draft): void {
  provider = d.provider;
  showProvider();
  fields.endpointUrl.value = d.endpointUrl;
  fields.bucket.value = d.bucket;
  fields.region.value = d.region;
  fields.accessKey.value = d.accessKey;
  fields.prefix.value = d.prefix;
  flags.pathStyle.checked = d.pathStyle;
  flags.checksumWhenRequired.checked = d.checksumWhenRequired;
  lastRegion = d.region;
  showHint();
}

/** Unsaved input survives the tab being hidden; the secret is never part of it. */
function saveState(): void {
  const state = pageState.parse({ draft: readDraft(), edited: [...edited] });
  vscode.setState(state);
}

function restoreState(): void {
  const r = pageState.safeParse(vscode.getState());
  if (!r.success) return;
  for (const f of r.data.edited) edited.add(f);
  writeDraft(r.data.draft);
}

function presetFor(id: string): PresetView | undefined {
  return presets.find((p) => p.id === id);
}

function showHint(): void {
  providerHint.textContent = presetFor(provider)?.hint ?? '';
}

// ---- rendering state ----------------------------------------------------------

function renderSettings(): void {
  const configured = settings.configured;
  const state = statusBadge(settings);
  badge.hidden = !state;
  badge.textContent = state?.text ?? '';
  badge.title = state?.title ?? '';
  badge.dataset.kind = state?.kind ?? '';
  removeButton.hidden = !configured;
  testButton.hidden = !configured;
  if (!configured) testSteps.hidden = true;
  const required = secretRequired(settings);
  fields.secretKey.placeholder = secretPlaceholder(settings);
  // Required marks are on the labels only: a `required` textfield paints itself
  // invalid (red) while empty, before the user has typed anything.
  labels.secretKey.required = required;
  secretNotice.hidden = !(settings.configured && !settings.hasSecretKey);
  secretNotice.textContent =
    'The secret key is not in this computer’s secret storage. Enter it again and save.';
  renderBusy();
}

function renderBusy(): void {
  saveButton.disabled = saving || !initialised;
  testButton.disabled = testing || saving || !initialised;
  form.setAttribute('aria-busy', String(saving || !initialised));
  app.setAttribute('aria-busy', String(!initialised));
}

function renderErrors(): void {
  for (const [name, slot] of Object.entries(errorSlots) as [S3FormField, HTMLElement][]) {
    const message = touched.has(name) ? errors[name] : undefined;
    slot.textContent = message ?? '';
    slot.hidden = !message;
    const input = name in fields ? fields[name as TextField] : undefined;
    if (input) input.invalid = Boolean(message);
  }
}

function setStatus(message: string, kind: 'ok' | 'error' | 'info'): void {
  statusLine.textContent = message;
  statusLine.dataset.kind = kind;
  statusLine.dataset.test = 'false';
}

/** A test's steps and summary no longer describe the settings once they changed (saved here or elsewhere). */
function clearStaleTest(): void {
  const current = settings.configured ? settings.lastTest?.at : undefined;
  if (shownTestAt === undefined || shownTestAt === current) return;
  shownTestAt = undefined;
  testSteps.replaceChildren();
  testSteps.hidden = true;
  if (statusLine.dataset.test === 'true') setStatus('', 'info');
}

// ---- talking to the extension -------------------------------------------------

function post(message: ToExtension): void {
  vscode.postMessage(message);
}

function requestValidation(): void {
  clearTimeout(validateTimer);
  validateTimer = undefined;
  if (!initialised) return;
  seq += 1;
  post({ type: 'validate', seq, fields: readForm() });
}

function scheduleValidation(): void {
  clearTimeout(validateTimer);
  validateTimer = setTimeout(requestValidation, 250);
}

function receive(message: ToWebview): void {
  switch (message.type) {
    case 'init': {
      presets = message.presets;
      renderPresets();
      settings = message.settings;
      initialised = true;
      writeDraft(mergeDraft(readDraft(), edited, settings));
      clearStaleTest();
      renderSettings();
      saveState();
      if (touched.size > 0) requestValidation();
      return;
    }
    case 'saved': {
      settings = message.settings;
      saving = false;
      edited.clear();
      touched.clear();
      errors = {};
      writeDraft(draftFrom(settings));
      fields.secretKey.value = '';
      clearStaleTest();
      renderSettings();
      renderErrors();
      saveState();
      setStatus(message.message, 'ok');
      return;
    }
    case 'removed': {
      settings = { configured: false };
      edited.clear();
      touched.clear();
      errors = {};
      writeDraft(EMPTY_DRAFT);
      fields.secretKey.value = '';
      endpointWarning.hidden = true;
      clearStaleTest();
      renderSettings();
      renderErrors();
      saveState();
      setStatus(message.message, 'ok');
      return;
    }
    case 'errors': {
      if (message.seq !== undefined && message.seq !== seq) return; // a newer validation is on its way
      errors = message.errors;
      if (message.seq === undefined) {
        // The answer to a save: show every problem and go to the first one.
        saving = false;
        renderBusy();
        for (const f of Object.keys(errorSlots) as S3FormField[]) touched.add(f);
        const first = (Object.keys(errorSlots) as S3FormField[]).find((f) => errors[f]);
        if (first) {
          setStatus('Not saved: fix the highlighted fields.', 'error');
          focusField(first);
        }
      }
      renderErrors();
      return;
    }
    case 'warning': {
      if (message.seq !== undefined && message.seq !== seq) return;
      endpointWarning.textContent = message.message ?? '';
      endpointWarning.hidden = !message.message;
      return;
    }
    case 'tested': {
      testing = false;
      renderBusy();
      testSteps.replaceChildren(
        ...message.steps.map((st) =>
          el(
            'li',
            { className: st.ok ? 'ok' : 'error' },
            `${st.ok ? '✓' : '✗'} ${st.step}${st.detail ? ` — ${st.detail}` : ''}`,
          ),
        ),
      );
      testSteps.hidden = message.steps.length === 0;
      setStatus(message.message, message.ok ? 'ok' : 'error');
      statusLine.dataset.test = 'true';
      shownTestAt = message.at;
      if (settings.configured) {
        const { ok, at, server, message: said } = message;
        settings = { ...settings, lastTest: { ok, at, server, message: said } };
        renderSettings();
      }
      return;
    }
    case 'alerts':
    case 'alertResult':
      alerts.receive(message);
      return;
    case 'result': {
      saving = false;
      testing = false;
      renderBusy();
      setStatus(message.message, message.ok ? 'ok' : 'error');
      return;
    }
  }
}

function focusField(name: S3FormField): void {
  if (name in fields) fields[name as TextField].focus();
  else if (name in flags) flags[name as FlagField].focus();
  else providerSelect.focus();
}

function renderPresets(): void {
  const key = JSON.stringify(presets);
  if (key !== presetsShown) {
    presetsShown = key;
    providerSelect.replaceChildren(
      ...presets.map((p) => el('vscode-option', { value: p.id, description: p.hint }, p.label)),
    );
  }
  showProvider();
}

/**
 * Shows `provider` in the select. The options carry the choice too: the select
 * reads its options again whenever they change (new ones in its slot, an
 * option's state), and then takes the selection from them, not from a value
 * set meanwhile.
 */
function showProvider(): void {
  for (const option of Array.from(providerSelect.children) as HTMLElementTagNameMap['vscode-option'][])
    option.selected = option.value === provider;
  providerSelect.value = provider;
}

// ---- events -------------------------------------------------------------------

let lastRegion = '';

function onEdited(name: DraftField | 'secretKey'): void {
  if (name !== 'secretKey') edited.add(name);
  if (name === 'region') {
    const region = fields.region.value;
    const endpoint = endpointForRegion(
      fields.endpointUrl.value,
      presetFor(provider),
      lastRegion,
      region.trim(),
    );
    if (endpoint !== fields.endpointUrl.value) {
      fields.endpointUrl.value = endpoint;
      edited.add('endpointUrl');
    }
    lastRegion = region.trim();
  }
  saveState();
  scheduleValidation();
}

function onPresetChosen(): void {
  const preset = presetFor(providerSelect.value);
  if (!preset) return;
  provider = preset.id;
  const { draft, changed } = applyPreset(readDraft(), preset);
  for (const f of changed) edited.add(f);
  writeDraft(draft);
  saveState();
  requestValidation();
  const range = placeholderRange(draft.endpointUrl);
  if (range) {
    // Put the cursor on <ACCOUNT_ID> so typing replaces it.
    const input = fields.endpointUrl;
    input.focus();
    void input.updateComplete.then(() => input.wrappedElement.setSelectionRange(range[0], range[1]));
  }
}

function wire(): void {
  for (const f of TEXT_FIELDS) {
    const input = fields[f.name];
    input.addEventListener('input', () => onEdited(f.name));
    input.addEventListener('focusout', () => {
      touched.add(f.name);
      requestValidation();
      renderErrors();
    });
  }
  for (const f of FLAGS) {
    flags[f.name].addEventListener('change', () => {
      touched.add(f.name);
      onEdited(f.name);
    });
  }
  providerSelect.addEventListener('change', onPresetChosen);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!initialised || saving) return;
    clearTimeout(validateTimer);
    seq += 1; // any validation still in flight is now stale
    saving = true;
    renderBusy();
    setStatus('Saving…', 'info');
    post({ type: 'save', fields: readForm() });
  });
  removeButton.addEventListener('click', () => post({ type: 'remove' }));
  testButton.addEventListener('click', () => {
    if (testing) return;
    testing = true;
    renderBusy();
    testSteps.hidden = true;
    setStatus('Testing from a server: put, head, get, list, delete…', 'info');
    post({ type: 'test' });
  });
  window.addEventListener('message', (event: MessageEvent<unknown>) => {
    const parsed = parseMessage(toWebview, event.data);
    if (!parsed.ok) {
      console.warn(`infrakt: ignored a malformed message (${parsed.problem})`);
      return;
    }
    receive(parsed.message);
  });
}

/** The stored settings the extension put in the page's HTML, as its first `init`. */
function initialMessage(): ToWebview | undefined {
  const raw = app.dataset.init;
  if (raw === undefined) return undefined;
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    console.warn('infrakt: ignored the page’s initial settings (not JSON)');
    return undefined;
  }
  const parsed = parseMessage(toWebview, data);
  if (parsed.ok && parsed.message.type === 'init') return parsed.message;
  console.warn(
    `infrakt: ignored the page’s initial settings (${parsed.ok ? 'not an init' : parsed.problem})`,
  );
  return undefined;
}

wire();
restoreState();
const initial = initialMessage();
if (initial) receive(initial);
else renderSettings();
post({ type: 'ready' });
