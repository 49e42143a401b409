// A status-bar item counting the schedules the Servers view shows as failed
// or stale, so a broken backup is seen without expanding every server.
import * as vscode from 'vscode';
import type { ConfigStore } from '../../store/configStore';
import type { BackupCatalog } from './backupCatalog';
import type { ServersTree } from './serversTree';

export class ScheduleProblemsItem implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem(
    'infrakt.scheduleProblems',
    vscode.StatusBarAlignment.Left,
    50,
  );
  private readonly subscriptions: { dispose(): void }[];

  constructor(
    private readonly tree: ServersTree,
    store: ConfigStore,
    catalog: BackupCatalog,
  ) {
    this.item.name = 'Infrakt: scheduled backups that need attention';
    this.item.command = 'infrakt.servers.focus';
    this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
    this.subscriptions = [catalog.onDidChange(() => this.update()), store.onDidChange(() => this.update())];
    this.update();
  }

  update(): void {
    const problems = this.tree.scheduleProblems();
    if (problems.length === 0) {
      this.item.hide();
      return;
    }
    this.item.text = `$(warning) ${problems.length} backup schedule${problems.length === 1 ? '' : 's'} failing`;
    this.item.tooltip = `Failed or stale scheduled backups: ${problems.join(', ')}. Click to open the Servers view.`;
    this.item.show();
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
    this.item.dispose();
  }
}
