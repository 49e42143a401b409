// "Infrakt: Open S3 Settings": the command, the welcome button and the
// view-title action all land here.
import * as vscode from 'vscode';
import type { Services } from '../services';
import { S3_SETTINGS_VIEW_TYPE, S3SettingsPanel } from '../webview/s3SettingsPanel';

export function openS3Settings(services: Services): void {
  S3SettingsPanel.show(services);
}

/** Optional: reopens the page after a window reload (needs `onWebviewPanel:infrakt.s3Settings`). */
export function registerS3SettingsSerializer(services: Services): vscode.Disposable {
  return vscode.window.registerWebviewPanelSerializer(S3_SETTINGS_VIEW_TYPE, {
    async deserializeWebviewPanel(panel: vscode.WebviewPanel) {
      S3SettingsPanel.revive(panel, services);
    },
  });
}
