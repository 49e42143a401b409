// Lint rules, including the import direction from STYLE.md:
// core imports nothing of ours; ssh and store import core; only platform and ui
// import `vscode`; the webview imports only shared.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const noVscode = { name: 'vscode', message: 'Only src/platform and src/ui may import vscode.' };
const layer = (group, message) => ({ group, message });

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'out/**', '.tools/**', '.tmp/**', 'test-results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [noVscode],
          patterns: [
            layer(
              ['**/store/*', '**/ssh/*', '**/platform/*', '**/ui/*', '**/shared/*', '../store', '../ssh'],
              'core imports nothing of ours.',
            ),
          ],
        },
      ],
    },
  },
  {
    files: ['src/shared/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [noVscode],
          patterns: [
            layer(
              ['**/core/*', '**/store/*', '**/ssh/*', '**/platform/*', '**/ui/*'],
              'shared (bundled into the webview) imports only shared.',
            ),
          ],
        },
      ],
    },
  },
  {
    files: ['src/store/**/*.ts', 'src/ssh/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [noVscode],
          patterns: [layer(['../platform/*', '../ui/*'], 'store/ssh may import core only.')],
        },
      ],
    },
  },
  {
    files: ['webview/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [noVscode],
          patterns: [
            layer(
              ['../src/core/*', '../src/store/*', '../src/ssh/*', '../src/platform/*', '../src/ui/*'],
              'The webview imports only src/shared.',
            ),
          ],
        },
      ],
    },
  },
  {
    files: ['test/unit/**/*.ts', 'test/integration/**/*.ts', 'bench/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [noVscode] }] },
  },
  {
    files: ['**/*.mjs', '**/*.cjs', '**/*.js'],
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        require: 'readonly',
        module: 'writable',
        __dirname: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        URL: 'readonly',
        Buffer: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
