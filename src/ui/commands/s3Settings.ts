// "Infrakt: Open S3 Settings": the command, the welcome button and the
// view-title action all land here.
import type { Services } from '../services';
import { S3SettingsPanel } from '../webview/s3SettingsPanel';

export function openS3Settings(services: Services): void {
  S3SettingsPanel.show(services);
}
