// ESLint flat config: typescript-eslint with type information. `npm run lint` runs it, then prettier --check and knip.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // ts-proto output (tools/codegen.sh) is regenerated, never edited by hand.
  { ignores: ['**/dist/**', '**/node_modules/**', 'packages/api/src/gen/**', 'coverage/**', '.nx/**', 'bench/results/**'] },
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      // One program over sources and tests (each package's tsconfig.json covers src/ only).
      parserOptions: { project: './tsconfig.eslint.json', tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // `_name` marks a parameter or binding kept on purpose, as tsc's noUnusedParameters reads it.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // typeof import('./x') stays allowed: it types the lazy require()s that keep koffi unloaded until needed.
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false }],
      // Off: an async function without await is how a promise-returning interface is implemented so
      // that a synchronous throw still arrives as a rejection; the rule reports it as a mistake.
      '@typescript-eslint/require-await': 'off',
      // Off: the gRPC helpers take the receiver and the method separately, call(client, client.get, req),
      // and invoke method.call(client, ...); the rule cannot see that binding and flags every call site.
      '@typescript-eslint/unbound-method': 'off',
      // Off: noUncheckedIndexedAccess is not enabled, so every `x[i]!` reads as unnecessary; the `!`
      // marks lookups the code has checked by other means and stays useful if that flag is turned on.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
    },
  },
  {
    // Tests read untyped JSON (JSON.parse, the runtime's `state` output) and check its shape with
    // expect(), which fails on a wrong shape; the no-unsafe-* rules stay on for src/.
    files: ['packages/*/test/**/*.ts', 'e2e/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    files: ['**/*.{js,mjs,cjs}'],
    extends: [js.configs.recommended],
    languageOptions: { globals: { ...globals.node } },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
  },
);
