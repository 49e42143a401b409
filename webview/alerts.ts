// The settings page's Alerts section: the saved destinations (name, kind,
// when — never a URL), each with Send Test Alert and Remove, and a form to add
// one. The URL and token are sent to the extension once, on Add, and never
// kept in the page's state.
import type { VscodeCheckbox } from '@vscode-elements/elements/dist/vscode-checkbox/vscode-checkbox.js';
import type { VscodeTextfield } from '@vscode-elements/elements/dist/vscode-textfield/vscode-textfield.js';
import type { AlertKindView, AlertView, ToExtension, ToWebview } from '../src/shared/protocol';
import { el } from './dom';

type AlertMessage = Extract<ToWebview, { type: 'alerts' | 'alertResult' }>;

export interface AlertsSection {
  element: HTMLElement;
  receive(message: AlertMessage): void;
}

export function buildAlerts(post: (m: ToExtension) => void): AlertsSection {
  let kinds: AlertKindView[] = [];
  let destinations: AlertView[] = [];
  const results = new Map<string, { ok: boolean; message: string }>();
  const testing = new Set<string>();

  const list = el('ul', { className: 'alert-list', ariaLabel: 'Alert destinations' });
  const empty = el('p', { className: 'description' }, 'No destinations yet: add one below.');
  const kindSelect = el('vscode-single-select', { id: 'alert-kind' });
  const kindHint = el('vscode-form-helper', { id: 'alert-kind-hint' });
  const field = (id: string, placeholder: string, type: 'text' | 'password') =>
    el('vscode-textfield', {
      id,
      placeholder,
      type,
      autocomplete: 'off',
      spellcheck: false,
    }) as VscodeTextfield;
  const name = field('alert-name', 'Team channel', 'text');
  const url = field('alert-url', 'https://hooks.slack.com/services/…', 'password');
  const token = field('alert-token', 'tk_… (optional)', 'password');
  const tokenGroup = el(
    'vscode-form-group',
    { variant: 'vertical' },
    el('vscode-label', { htmlFor: 'alert-token' }, 'Token'),
    token,
    el(
      'vscode-form-helper',
      {},
      'Sent as "Authorization: Bearer …"; leave empty when the URL carries its key.',
    ),
  );
  const always = el('vscode-checkbox', {
    id: 'alert-always',
    label: 'Also on success (not only on failure)',
  }) as VscodeCheckbox;
  const addButton = el('vscode-button', { type: 'button' }, 'Add Destination');
  const status = el('p', { className: 'status', role: 'status', ariaLive: 'polite' });

  const kindOf = (id: string) => kinds.find((k) => k.id === id);
  const showKind = () => {
    const k = kindOf(kindSelect.value);
    kindHint.textContent = k ? `URL: ${k.hint}` : '';
    url.placeholder = k?.hint ?? '';
    tokenGroup.hidden = !k?.takesToken;
    always.hidden = k?.id === 'healthchecks';
  };

  const renderList = () => {
    empty.hidden = destinations.length > 0;
    list.replaceChildren(
      ...destinations.map((d) => {
        const r = results.get(d.id);
        const test = el(
          'vscode-button',
          { secondary: true, type: 'button', disabled: testing.has(d.id) || !d.hasSecret },
          'Send Test Alert',
        );
        test.dataset.alertId = d.id;
        test.addEventListener('click', () => {
          testing.add(d.id);
          results.set(d.id, { ok: true, message: 'Sending from a server…' });
          renderList();
          post({ type: 'alertTest', id: d.id });
        });
        const remove = el('vscode-button', { secondary: true, type: 'button' }, 'Remove');
        remove.addEventListener('click', () => post({ type: 'alertRemove', id: d.id }));
        const line = el('div', { className: 'alert-result', role: 'status' }, r?.message ?? '');
        line.dataset.kind = r ? (r.ok ? 'ok' : 'error') : '';
        return el(
          'li',
          { className: 'alert-item' },
          el(
            'div',
            { className: 'alert-head' },
            el('strong', {}, d.name),
            ` — ${d.kindLabel}, ${d.when}`,
            d.hasSecret ? '' : ' (its URL is not on this computer: remove it and add it again)',
          ),
          el('div', { className: 'buttons' }, test, remove),
          line,
        );
      }),
    );
  };

  addButton.addEventListener('click', () => {
    status.textContent = 'Saving…';
    status.dataset.kind = 'info';
    post({
      type: 'alertAdd',
      destination: {
        kind: kindSelect.value,
        name: name.value,
        url: url.value,
        token: tokenGroup.hidden ? '' : token.value,
        always: always.checked,
      },
    });
  });
  kindSelect.addEventListener('change', showKind);

  const element = el(
    'section',
    { className: 'alerts', ariaLabel: 'Alerts' },
    el('h1', { id: 'alerts-heading' }, 'Alerts'),
    el(
      'p',
      { className: 'description' },
      'Scheduled backups report to these destinations from the server, so a failure is seen with VS Code closed. URLs and tokens stay in secret storage and, on servers with schedules, in a root-only file.',
    ),
    empty,
    list,
    el(
      'div',
      { className: 'grid' },
      el(
        'vscode-form-group',
        { variant: 'vertical', className: 'wide' },
        el('vscode-label', { htmlFor: 'alert-kind' }, 'Kind'),
        kindSelect,
        kindHint,
      ),
      el(
        'vscode-form-group',
        { variant: 'vertical' },
        el('vscode-label', { htmlFor: 'alert-name' }, 'Name'),
        name,
      ),
      el(
        'vscode-form-group',
        { variant: 'vertical', className: 'wide' },
        el('vscode-label', { htmlFor: 'alert-url' }, 'URL'),
        url,
      ),
      tokenGroup,
    ),
    el('div', { className: 'option' }, always),
    el('div', { className: 'buttons' }, addButton),
    status,
  );

  return {
    element,
    receive(message) {
      if (message.type === 'alerts') {
        const fresh = JSON.stringify(kinds) !== JSON.stringify(message.kinds);
        kinds = message.kinds;
        destinations = message.destinations;
        if (fresh) {
          kindSelect.replaceChildren(...kinds.map((k) => el('vscode-option', { value: k.id }, k.label)));
          kindSelect.value = kinds[0]?.id ?? '';
          showKind();
        }
        renderList();
        return;
      }
      if (message.id !== undefined) {
        testing.delete(message.id);
        results.set(message.id, { ok: message.ok, message: message.message });
        renderList();
        return;
      }
      status.textContent = message.message;
      status.dataset.kind = message.ok ? 'ok' : 'error';
      if (message.added) {
        name.value = '';
        url.value = '';
        token.value = '';
        always.checked = false;
      }
    },
  };
}
