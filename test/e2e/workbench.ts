// Driving real VS Code (code-server) in Debian's Chromium with playwright-core:
// one Workbench = one code-server instance with a fresh profile + one browser.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Browser, type Frame, type Locator, type Page, chromium } from 'playwright-core';
import { type CodeServer, startCodeServer } from './codeServer';
import { nextShotPath, onTeardown, recordTiming, slug, waitFor, world } from './world';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export async function launchBrowser(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing (Debian: apt-get install chromium)`);
  // Signals are handled by run.ts, which tears down code-server as well.
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  });
  onTeardown('chromium', () => browser.close());
  return browser;
}

/** A string as a regular expression matching exactly that text. */
export function exactly(text: string): RegExp {
  return new RegExp(`^\\s*${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`);
}

const css = (s: string) => JSON.stringify(s);

export interface WorkbenchOptions {
  theme?: string;
  /** Runs before code-server starts, e.g. to seed files under its home or user-data dir. */
  prepare?: (dirs: { dir: string; home: string; userDataDir: string }) => void | Promise<void>;
}

let instances = 0;

export class Workbench {
  /** Console errors of the page, for failure reports. */
  readonly consoleErrors: string[] = [];

  private constructor(
    readonly server: CodeServer,
    readonly browser: Browser,
    readonly page: Page,
  ) {
    page.on('console', (msg) => {
      if (msg.type() === 'error') this.consoleErrors.push(msg.text());
    });
    page.on('pageerror', (err) => this.consoleErrors.push(String(err)));
  }

  /** Wraps a page that is already showing the workbench of `server`. */
  static attach(server: CodeServer, browser: Browser, page: Page): Workbench {
    return new Workbench(server, browser, page);
  }

  /** A fresh code-server profile with the packaged extension, opened in a new browser. */
  static async start(label: string, opts: WorkbenchOptions = {}): Promise<Workbench> {
    const w = world();
    const dir = path.join(w.workDir, `${String(++instances).padStart(2, '0')}-${slug(label)}`);
    await opts.prepare?.({ dir, home: path.join(dir, 'home'), userDataDir: path.join(dir, 'user-data') });
    const server = await startCodeServer({
      entry: w.codeServerEntry,
      dir,
      extensionsDir: w.extensionsDir,
      theme: opts.theme,
    });
    const browser = await launchBrowser();
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const wb = new Workbench(server, browser, page);
    await wb.load();
    return wb;
  }

  /** (Re)loads the workbench and waits until it is drawn. */
  async load(url = this.server.workbenchUrl): Promise<void> {
    const started = Date.now();
    await this.page.goto(url);
    await this.page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    await this.page.locator('.activitybar').waitFor({ timeout: 30_000 });
    recordTiming('workbench load', Date.now() - started);
  }

  async close(): Promise<void> {
    await this.browser.close();
    await this.server.stop();
  }

  /** Saves test-results/e2e/<NN>-<name>.png. */
  async shot(name: string): Promise<string> {
    const file = nextShotPath(name);
    await this.page.screenshot({ path: file });
    return file;
  }

  // ---- Activity bar and the Infrakt view

  activityBarItem(title: string): Locator {
    return this.page
      .locator(
        `.activitybar .action-label[aria-label=${css(title)}], .activitybar .action-label[aria-label^=${css(`${title} (`)}]`,
      )
      .first();
  }

  /** Opens the "Infrakt" container and waits for its "Servers" view. */
  async openInfrakt(): Promise<Locator> {
    await this.activityBarItem('Infrakt').click({ timeout: 30_000 });
    const view = this.serversView();
    await view.waitFor({ state: 'visible', timeout: 30_000 });
    return view;
  }

  /** The title of the side bar ("INFRAKT: SERVERS" as shown, upper-cased by CSS). */
  sideBarTitle(): Locator {
    return this.page.locator('.part.sidebar .composite.title h2').first();
  }

  serversView(): Locator {
    return this.page
      .locator('.part.sidebar .pane')
      .filter({ has: this.page.locator('.pane-header[aria-label^="Servers"]') })
      .first();
  }

  welcome(): Locator {
    return this.serversView().locator('.welcome-view-content');
  }

  welcomeButton(name: string): Locator {
    return this.welcome().getByRole('button', { name, exact: true });
  }

  /** Rows of the Servers tree (not the welcome content). */
  treeRows(): Locator {
    return this.serversView().locator('.monaco-list-row');
  }

  treeRow(label: string): Locator {
    return this.treeRows()
      .filter({ has: this.page.locator('.label-name').filter({ hasText: exactly(label) }) })
      .first();
  }

  /** Right-clicks a row and chooses a context-menu entry. */
  async contextMenu(row: Locator, item: string): Promise<void> {
    await row.click({ button: 'right' });
    const entry = this.page.getByRole('menuitem', { name: item, exact: true });
    await entry.waitFor({ state: 'visible' });
    // The workbench menu runs an item on a mouse-up that follows its own
    // mouse-down; Playwright's synthetic click does not always satisfy that, so
    // focus the item by hovering and run it with Enter, as a keyboard user would.
    await entry.hover();
    await this.page.keyboard.press('Enter');
    await entry.waitFor({ state: 'hidden' });
  }

  // ---- Command palette and quick input

  quickInput(): Locator {
    return this.page.locator('.quick-input-widget');
  }

  quickInputTitle(): Locator {
    return this.quickInput().locator('.quick-input-title');
  }

  quickInputRows(): Locator {
    return this.quickInput().locator('.monaco-list-row');
  }

  /** Runs a command from the palette (F1) by its full title, e.g. "Infrakt: Add Server". */
  async runCommand(title: string): Promise<void> {
    await this.page.keyboard.press('F1');
    const input = this.quickInput().locator('.quick-input-box input');
    await input.waitFor({ state: 'visible' });
    await input.fill(`>${title}`);
    // Rows are labelled "<title>", or "<title>, recently used" and the like.
    const row = this.quickInput()
      .locator(
        `.monaco-list-row[aria-label=${css(title)}], .monaco-list-row[aria-label^=${css(`${title},`)}]`,
      )
      .first();
    await row.waitFor({ state: 'visible', timeout: 15_000 });
    await row.click();
  }

  /** Waits for an input box or quick pick with this exact title. */
  async waitForQuickInput(title: string): Promise<void> {
    await this.quickInputTitle()
      .filter({ hasText: exactly(title) })
      .waitFor({ state: 'visible', timeout: 30_000 });
  }

  /** Answers the input box titled `title` with `value` (replacing any default) and presses Enter. */
  async answer(title: string, value: string): Promise<void> {
    await this.waitForQuickInput(title);
    const input = this.quickInput().locator('.quick-input-box input');
    await input.fill(value);
    await input.press('Enter');
  }

  /** Accepts the input box titled `title` as it is (its default value). */
  async accept(title: string): Promise<string> {
    await this.waitForQuickInput(title);
    const input = this.quickInput().locator('.quick-input-box input');
    const value = await input.inputValue();
    await input.press('Enter');
    return value;
  }

  /** Chooses the item containing `label` in the quick pick titled `title`. */
  async pick(title: string, label: string): Promise<void> {
    await this.waitForQuickInput(title);
    const row = this.quickInputRows().filter({ hasText: label }).first();
    await row.waitFor({ state: 'visible' });
    await row.click();
  }

  async dismissQuickInput(): Promise<void> {
    await this.page.keyboard.press('Escape');
    await this.quickInput().waitFor({ state: 'hidden' });
  }

  // ---- Notifications and dialogs

  toasts(): Locator {
    return this.page.locator('.notification-toast');
  }

  /** The visible toast containing `text`. */
  async waitForToast(text: string | RegExp): Promise<Locator> {
    const toast = this.toasts().filter({ hasText: text }).first();
    try {
      await toast.waitFor({ state: 'visible', timeout: 30_000 });
    } catch (e) {
      // What was shown instead (an error toast names the cause): in the failure itself, for a CI log.
      const shown = await this.toastTexts().catch(() => []);
      throw new Error(
        `no toast matching ${String(text)} within 30 s; shown instead: ${shown.length ? shown.map((t) => JSON.stringify(t)).join(', ') : 'none'}`,
        { cause: e },
      );
    }
    return toast;
  }

  /** Texts of the toasts shown now. */
  async toastTexts(): Promise<string[]> {
    return (await this.toasts().allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim());
  }

  dialog(): Locator {
    return this.page.locator('.monaco-dialog-box');
  }

  // ---- Editors and webviews

  editorTab(title: string): Locator {
    return this.page
      .locator('.tabs-container .tab')
      .filter({ hasText: exactly(title) })
      .first();
  }

  activeEditorTab(): Locator {
    return this.page.locator('.tabs-container .tab.active');
  }

  async closeAllEditors(): Promise<void> {
    await this.runCommand('View: Close All Editors');
  }

  /**
   * The frame of a webview whose page shows `text`. Webviews live in nested
   * iframes; the main frame is skipped (an editor tab may carry the same title).
   */
  async webviewFrame(text: string, timeoutMs = 30_000): Promise<Frame> {
    return waitFor(
      `a webview showing "${text}"`,
      async () => {
        for (const frame of this.page.frames()) {
          if (frame === this.page.mainFrame()) continue;
          try {
            if ((await frame.getByText(text).filter({ visible: true }).count()) > 0) return frame;
          } catch {
            // a frame that navigated or went away while we looked
          }
        }
        return undefined;
      },
      { timeoutMs, intervalMs: 250 },
    );
  }

  // ---- More notifications and dialogs

  /** Clears every notification (toasts and the notification center), so a later check starts empty. */
  async clearNotifications(): Promise<void> {
    await this.runCommand('Notifications: Clear All Notifications');
    await this.toasts().first().waitFor({ state: 'hidden' });
  }

  /**
   * Answers the modal dialog with the button named `button` and waits for it to close.
   * By keyboard, as contextMenu() does for menus: focus the button and press
   * Enter, so the answer never depends on how the workbench pairs synthetic mouse events.
   */
  async answerDialog(button: string): Promise<void> {
    const dialog = this.dialog();
    await dialog.waitFor({ state: 'visible', timeout: 30_000 });
    const target = dialog.getByRole('button', { name: button, exact: true });
    await target.focus();
    await this.page.keyboard.press('Enter');
    await dialog.waitFor({ state: 'hidden' });
  }

  /** The visible toast containing `text`, once its fade-in has finished (a screenshot then shows it whole). */
  async waitForToastDrawn(text: string | RegExp): Promise<Locator> {
    const toast = await this.waitForToast(text);
    await this.toasts()
      .filter({ hasText: text })
      .and(this.page.locator('.notification-fade-in-done'))
      .first()
      .waitFor({ state: 'visible' });
    return toast;
  }

  // ---- Extension contributions

  /**
   * Waits until the workbench has registered the extensions' contributions
   * (commands, menus, views), which VS Code marks as `code/didHandleExtensionPoints`.
   * Right after a (re)load the palette can open before that and then lists only
   * the commands there were, never adding one later; and after a reload the
   * activity bar's icons are drawn from a cache, so they prove nothing.
   */
  async waitForExtensionsRegistered(): Promise<void> {
    await this.page.waitForFunction(
      () => performance.getEntriesByName('code/didHandleExtensionPoints').length > 0,
      undefined,
      { timeout: 60_000 },
    );
  }
}

/**
 * Mocha hooks for a spec: a workbench started before its tests, a screenshot
 * of any failing test, and teardown after. Returns a getter for the workbench.
 */
export function useWorkbench(label: string, opts: WorkbenchOptions = {}): () => Workbench {
  let wb: Workbench | undefined;
  before(async function () {
    this.timeout(180_000);
    wb = await Workbench.start(label, opts);
  });
  afterEach(async function () {
    const test = this.currentTest;
    if (wb && test?.state === 'failed') {
      const file = await wb.shot(`failed-${test.title}`).catch(() => undefined);
      if (file) console.log(`      screenshot of the failure: ${path.relative(process.cwd(), file)}`);
      const toasts = await wb.toastTexts().catch(() => []);
      if (toasts.length) console.log(`      notifications: ${toasts.join(' | ')}`);
    }
  });
  after(async () => {
    await wb?.close();
  });
  return () => {
    if (!wb) throw new Error(`workbench "${label}" did not start`);
    return wb;
  };
}
