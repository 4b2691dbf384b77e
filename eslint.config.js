// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'src/chain/artifacts/**', 'reports/**', '.scratch/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { console: 'readonly', process: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    // The core is pure: no I/O, no clock, no randomness, no network or chain clients.
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(?!(\\.{1,2}/|@noble/hashes/|@noble/secp256k1$|msgpackr$|hash-wasm$)).*',
              message:
                'src/core is pure: only relative imports, @noble/hashes, @noble/secp256k1, msgpackr and hash-wasm (WebAssembly keccak).',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'src/core does no I/O.' },
        { name: 'setTimeout', message: 'src/core has no clock: take time as an argument.' },
        { name: 'setInterval', message: 'src/core has no clock.' },
        { name: 'performance', message: 'src/core has no clock.' },
        { name: 'fetch', message: 'src/core does no I/O.' },
        { name: 'crypto', message: 'src/core has no randomness: take keys and nonces as arguments.' },
        { name: 'console', message: 'src/core does not log: return results.' },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'src/core has no clock: take time as an argument.' },
        { object: 'Math', property: 'random', message: 'src/core has no randomness.' },
      ],
      'no-restricted-syntax': ['error', { selector: "NewExpression[callee.name='Date']", message: 'src/core has no clock.' }],
    },
  },
);
