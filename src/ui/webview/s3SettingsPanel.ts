// Hosts the "S3 Backup Storage" settings page: one panel (revealed if already
// open), every message from the page checked with the shared protocol, the
// secret only ever travelling page → extension → SecretStorage.
//
// No retainContextWhenHidden: the page is rebuilt when shown again and keeps
// unsaved input (never the secret) in its webview state.
import * as vscode from 'vscode';
import { S3_SETTINGS_VIEW_TYPE } from '../deferred';
import { S3_PRESETS } from '../../core/s3/presets';
import type { S3SettingsService } from '../../core/s3/settingsService';
import type { FieldErrors } from '../../core/s3/settings';
import {
  type FieldErrorMap,
  type PresetView,
  type ToExtension,
  type ToWebview,
  S3_FIELD_LABELS,
  S3_FIELD_MAX,
  S3_FORM_FIELDS,
  oversizeFields,
  parseMessage,
  toExtension,
  toWebview,
} from '../../shared/protocol';
import { runS3Test } from '../commands/s3Test';
import { addAlertFromForm, alertsView, removeAlertTarget, runTestAlert } from '../commands/alerts';
import { AlertInputError } from '../../core/alerts/destinations';
import { StoreError } from '../../store/configStore';
import { syncSchedules } from '../commands/schedule';
import { resolveServer } from '../commands/targets';
import { isCancellation, messageOf } from '../errors';
import { s3SettingsService } from '../s3TestLog';
import type { Services } from '../services';
import { makeNonce, s3SettingsHtml } from './s3SettingsHtml';

const TITLE = 'S3 Settings';

/** One open panel per activation (keyed by the extension context, not a global). */
const openPanels = new WeakMap<vscode.ExtensionContext, S3SettingsPanel>();

export class S3SettingsPanel implements vscode.Disposable {
  private readonly service: S3SettingsService;
  private readonly disposables: vscode.Disposable[] = [];
  private lastInit = '';

  /**
   * Shows the page: reveals the open one, or the tab VS Code restored after a
   * reload but has not handed back yet (it revives a hidden tab only once it is
   * shown), and opens a new one only when there is neither.
   */
  static show(services: Services): void {
    const open = openPanels.get(services.context);
    if (open) {
      open.panel.reveal();
      return;
    }
    const restored = restoredTab();
    if (restored) {
      void activateTab(restored).then(
        (shown) => {
          if (!shown && !openPanels.has(services.context)) S3SettingsPanel.replace(restored, services);
        },
        (err: unknown) => {
          services.log.warn(`S3 settings: could not show the restored tab (${messageOf(err)})`);
          if (!openPanels.has(services.context)) S3SettingsPanel.replace(restored, services);
        },
      );
      return;
    }
    S3SettingsPanel.create(services);
  }

  /**
   * For a WebviewPanelSerializer: adopt a panel VS Code restored after a reload.
   * If a page is already open, that one is kept (it may hold input being typed)
   * and the restored duplicate is closed.
   */
  static revive(panel: vscode.WebviewPanel, services: Services): S3SettingsPanel {
    const open = openPanels.get(services.context);
    if (open) {
      services.log.info('S3 settings: closed a restored duplicate of the open page');
      panel.dispose();
      open.panel.reveal();
      return open;
    }
    panel.webview.options = S3SettingsPanel.webviewOptions(services.context);
    return new S3SettingsPanel(panel, services);
  }

  private static create(services: Services): S3SettingsPanel {
    const panel = vscode.window.createWebviewPanel(
      S3_SETTINGS_VIEW_TYPE,
      TITLE,
      vscode.ViewColumn.Active,
      S3SettingsPanel.webviewOptions(services.context),
    );
    return new S3SettingsPanel(panel, services);
  }

  /** Last resort when a restored tab cannot be brought forward: one new page instead of two. */
  private static replace(restored: vscode.Tab, services: Services): void {
    S3SettingsPanel.create(services);
    void vscode.window.tabGroups.close(restored, true).then(undefined, (err: unknown) => {
      services.log.warn(`S3 settings: could not close the restored tab (${messageOf(err)})`);
    });
  }

  private static webviewOptions(context: vscode.ExtensionContext): vscode.WebviewOptions {
    return {
      enableScripts: true,
      enableCommandUris: false,
      localResourceRoots: [
        vscode.Uri.joinPath(context.extensionUri, 'dist'),
        vscode.Uri.joinPath(context.extensionUri, 'media'),
      ],
    };
  }

  private constructor(
    readonly panel: vscode.WebviewPanel,
    private readonly services: Services,
  ) {
    this.service = s3SettingsService(services);
    openPanels.set(services.context, this);
    const { webview } = panel;
    const asset = (...p: string[]) =>
      webview.asWebviewUri(vscode.Uri.joinPath(services.context.extensionUri, ...p)).toString();
    panel.iconPath = vscode.Uri.joinPath(services.context.extensionUri, 'media', 'infrakt.svg');
    const page = {
      cspSource: webview.cspSource,
      nonce: makeNonce(),
      scriptUri: asset('dist', 'webview.js'),
      styleUri: asset('media', 's3Settings.css'),
    };
    // The stored settings go in with the page itself; `ready` is still answered
    // (a page rebuilt after being hidden may hold older ones).
    void this.initMessage().then(
      (init) => (webview.html = s3SettingsHtml({ ...page, init })),
      (err: unknown) => {
        services.log.warn(`S3 settings: the page opens without its stored values (${messageOf(err)})`);
        webview.html = s3SettingsHtml(page);
      },
    );
    this.disposables.push(
      panel.onDidDispose(() => this.dispose()),
      webview.onDidReceiveMessage((raw: unknown) => void this.receive(raw)),
      // Another window (or a command) changed the settings: show the new ones.
      services.store.onDidChange(() => {
        void this.sendInit(false);
        void this.sendAlerts();
      }),
    );
  }

  dispose(): void {
    if (openPanels.get(this.services.context) === this) openPanels.delete(this.services.context);
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }

  private async receive(raw: unknown): Promise<void> {
    const parsed = parseMessage(toExtension, raw);
    const oversize = parsed.ok ? undefined : oversizeFields(raw);
    if (oversize) {
      // Too long to be a value at all: say so on the fields, like any other field error.
      const errors = Object.fromEntries(
        oversize.fields.map((f) => [
          f,
          `${S3_FIELD_LABELS[f]} is too long — at most ${S3_FIELD_MAX[f]} characters; check what was pasted`,
        ]),
      );
      await this.post({ type: 'errors', seq: oversize.seq, errors });
      return;
    }
    if (!parsed.ok) {
      // Never log the message itself: a save carries the secret.
      this.services.log.warn(`S3 settings page: ignored a malformed message (${parsed.problem})`);
      return;
    }
    const msg = parsed.message;
    try {
      await this.handle(msg);
    } catch (err) {
      const message = messageOf(err);
      this.services.log.error(`S3 settings (${msg.type}): ${message}`);
      await this.post({ type: 'result', ok: false, message });
      const choice = await vscode.window.showErrorMessage(message, 'Show Log');
      if (choice === 'Show Log') this.services.log.show(true);
    }
  }

  private async handle(msg: ToExtension): Promise<void> {
    switch (msg.type) {
      case 'ready':
        await this.sendInit(true);
        await this.sendAlerts();
        return;
      case 'alertAdd': {
        try {
          const t = await addAlertFromForm(this.services, msg.destination);
          await this.sendAlerts();
          await this.post({
            type: 'alertResult',
            ok: true,
            added: true,
            message: `Alert destination "${t.name}" saved. Use Send Test Alert to check it from a server.`,
          });
        } catch (err) {
          if (!(err instanceof AlertInputError || err instanceof StoreError)) throw err;
          await this.post({ type: 'alertResult', ok: false, message: `Not saved: ${err.message}` });
        }
        return;
      }
      case 'alertRemove': {
        const d = this.services.store.listAlertDestinations().find((x) => x.id === msg.id);
        if (!d) return;
        const answer = await vscode.window.showWarningMessage(
          `Remove the alert destination "${d.name}"?`,
          {
            modal: true,
            detail:
              'Scheduled backups stop sending to it; its URL is removed from secret storage and from the servers.',
          },
          'Remove',
        );
        if (answer !== 'Remove') return;
        await removeAlertTarget(this.services, d);
        await this.sendAlerts();
        return;
      }
      case 'alertTest': {
        const d = this.services.store.listAlertDestinations().find((x) => x.id === msg.id);
        if (!d) return;
        let server;
        try {
          server = await resolveServer(this.services, undefined, `Send Test Alert to ${d.name} from`);
        } catch (err) {
          if (!isCancellation(err)) throw err;
          await this.post({ type: 'alertResult', id: d.id, ok: false, message: 'Test cancelled.' });
          return;
        }
        try {
          const r = await runTestAlert(this.services, d.id, server);
          await this.post({
            type: 'alertResult',
            id: d.id,
            ok: r.ok,
            message: `From ${server.name}: ${r.detail}`,
          });
        } catch (err) {
          const message = `From ${server.name}: ${messageOf(err)}`;
          this.services.log.error(`Send Test Alert to "${d.name}": ${message}`);
          await this.post({ type: 'alertResult', id: d.id, ok: false, message });
        }
        return;
      }
      case 'validate': {
        const v = await this.service.validate(msg.fields);
        await this.post({ type: 'errors', seq: msg.seq, errors: errorMap(v.errors) });
        await this.post({ type: 'warning', seq: msg.seq, message: v.warning });
        return;
      }
      case 'save': {
        const r = await this.service.save(msg.fields);
        await this.post({ type: 'warning', message: r.warning });
        if (!r.ok) {
          await this.post({ type: 'errors', errors: errorMap(r.errors) });
          return;
        }
        const { endpointUrl, bucket, prefix } = r.settings;
        this.services.log.info(`S3 settings saved: ${endpointUrl}, bucket ${bucket}, prefix "${prefix}"`);
        await this.post({ type: 'saved', settings: r.settings, message: r.message });
        void vscode.window.showInformationMessage(r.message);
        // What the tree showed of S3 (listed with the old settings, or not at all) is out of date.
        this.services.tree.reload();
        // Schedules carry the S3 settings on their servers: bring them up to date.
        void syncSchedules(this.services);
        return;
      }
      case 'remove': {
        const answer = await vscode.window.showWarningMessage(
          'Remove the S3 configuration?',
          {
            modal: true,
            detail:
              'The endpoint, bucket and access key are forgotten and the secret key is deleted from VS Code’s secret storage. Backups already in the bucket are not touched.',
          },
          'Remove',
        );
        if (answer !== 'Remove') return;
        const r = await this.service.remove();
        this.services.log.info('S3 settings removed');
        await this.post({ type: 'removed', message: r.message });
        void vscode.window.showInformationMessage(r.message);
        this.services.tree.reload();
        void syncSchedules(this.services);
        return;
      }
      case 'test': {
        const chosen = msg.serverId ? this.services.store.getServer(msg.serverId) : undefined;
        let server;
        try {
          server = chosen ?? (await resolveServer(this.services, undefined, 'Test S3 Connection from'));
        } catch (err) {
          if (!isCancellation(err)) throw err;
          await this.post({ type: 'result', ok: false, message: 'Test Connection cancelled.' });
          return;
        }
        const outcome = await runS3Test(this.services, server);
        await this.post({ type: 'tested', server: server.name, ...outcome });
        if (outcome.ok) void vscode.window.showInformationMessage(outcome.message);
        else void vscode.window.showErrorMessage(outcome.message);
        return;
      }
    }
  }

  private async sendAlerts(): Promise<void> {
    await this.post({ type: 'alerts', ...(await alertsView(this.services)) });
  }

  /** The first `init`, for the page's HTML: checked like every message the page gets. */
  private async initMessage(): Promise<string | undefined> {
    const settings = await this.service.read();
    const checked = parseMessage(toWebview, { type: 'init', settings, presets: PRESETS });
    if (!checked.ok) {
      this.services.log.error(
        `S3 settings: refused to put a malformed init in the page (${checked.problem})`,
      );
      return undefined;
    }
    this.lastInit = JSON.stringify(settings);
    return JSON.stringify(checked.message);
  }

  /** Sends the stored settings; unless forced, only when they changed since the last init. */
  private async sendInit(force: boolean): Promise<void> {
    const settings = await this.service.read();
    const key = JSON.stringify(settings);
    if (!force && key === this.lastInit) return;
    this.lastInit = key;
    await this.post({ type: 'init', settings, presets: PRESETS });
  }

  /** Every outgoing message is checked too: the page-bound schemas have no room for a secret. */
  private async post(msg: ToWebview): Promise<void> {
    const checked = parseMessage(toWebview, msg);
    if (!checked.ok) {
      this.services.log.error(`S3 settings: refused to send a malformed ${msg.type} (${checked.problem})`);
      return;
    }
    await this.panel.webview.postMessage(checked.message);
  }
}

const PRESETS: PresetView[] = S3_PRESETS.map((p) => ({ ...p }));

/**
 * Whether a tab shows this page. A tab's viewType carries a
 * `mainThreadWebview-` prefix that WebviewPanel.viewType does not
 * (microsoft/vscode#201884); the bare form is accepted too in case that is fixed.
 */
function isS3SettingsTab(tab: vscode.Tab): boolean {
  const input = tab.input;
  if (!(input instanceof vscode.TabInputWebview)) return false;
  const { viewType } = input;
  return viewType === S3_SETTINGS_VIEW_TYPE || viewType.endsWith(`-${S3_SETTINGS_VIEW_TYPE}`);
}

/** A tab of this page, preferring one in the active group. */
function restoredTab(): vscode.Tab | undefined {
  const groups = vscode.window.tabGroups;
  return (
    groups.activeTabGroup.tabs.find(isS3SettingsTab) ??
    groups.all.flatMap((g) => g.tabs).find(isS3SettingsTab)
  );
}

/** Commands focusing the editor group of a view column (1–8), in grid order like ViewColumn. */
const FOCUS_GROUP_COMMANDS = [
  'workbench.action.focusFirstEditorGroup',
  'workbench.action.focusSecondEditorGroup',
  'workbench.action.focusThirdEditorGroup',
  'workbench.action.focusFourthEditorGroup',
  'workbench.action.focusFifthEditorGroup',
  'workbench.action.focusSixthEditorGroup',
  'workbench.action.focusSeventhEditorGroup',
  'workbench.action.focusEighthEditorGroup',
];

/**
 * Makes a tab the active editor, which is what makes VS Code revive a restored
 * webview. The API has no "activate this tab", so: focus its group, then open
 * the editor at its index there. Resolves false when that cannot be done.
 */
async function activateTab(tab: vscode.Tab): Promise<boolean> {
  const { group } = tab;
  const index = group.tabs.indexOf(tab);
  const focusGroup = FOCUS_GROUP_COMMANDS[group.viewColumn - 1];
  if (index < 0 || !focusGroup) return false;
  await vscode.commands.executeCommand(focusGroup);
  await vscode.commands.executeCommand('workbench.action.openEditorAtIndex', index);
  return true;
}

function errorMap(errors: FieldErrors): FieldErrorMap {
  const out: FieldErrorMap = {};
  for (const field of S3_FORM_FIELDS) {
    const message = errors[field];
    if (message !== undefined) out[field] = message;
  }
  return out;
}
