import * as assert from 'node:assert/strict';
import { ROW_NOT_HANDED_OVER, commandTarget, rowNotHandedOver } from '../../src/ui/commands/rowArgument';

// What VS Code passes a command: from the palette nothing; from a row's menu the
// row's element and the selection — `undefined` for the element when a refresh
// had dropped it (run on a row → ask which one would act on another).
describe('a command’s target from its arguments', () => {
  const row = { kind: 'backup' };

  it('the palette (no arguments): no target, so the command asks', () => {
    assert.equal(commandTarget([]), undefined);
  });

  it('a row’s menu: the row', () => {
    assert.equal(commandTarget([row, undefined]), row);
    assert.equal(commandTarget([row]), row);
  });

  it('a row’s menu whose row VS Code could not hand over: a marker, never "no target"', () => {
    assert.equal(commandTarget([undefined, undefined]), ROW_NOT_HANDED_OVER);
    assert.equal(commandTarget([undefined]), ROW_NOT_HANDED_OVER);
  });

  it('says what happened and what to do, in one sentence', () => {
    assert.equal(
      rowNotHandedOver('Delete Backup').message,
      'The tree was reloading when Delete Backup was chosen, so infrakt could not tell which row it was for — choose Delete Backup on the row again.',
    );
  });
});
