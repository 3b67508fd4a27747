// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'data/**', 'logs/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        {
          selector:
            "CallExpression[callee.name='require'][arguments.0.value=/^(fs|path|http|https|net|tls|crypto|os|child_process|events|stream|util|url|dns|zlib)$/]",
          message: 'Use the node: prefix for built-in modules.',
        },
        {
          selector:
            'ImportDeclaration[source.value=/^(fs|path|http|https|net|tls|crypto|os|child_process|events|stream|util|url|dns|zlib|fs\\u002Fpromises|timers|async_hooks)$/]',
          message: 'Use the node: prefix for built-in modules.',
        },
      ],
    },
  },
  {
    // Assertions on loosely shaped JSON read better without a cast per field.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['bin/**/*.js', 'preload/**/*.js'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: {
        require: 'readonly',
        process: 'readonly',
        __dirname: 'readonly',
        module: 'writable',
        Buffer: 'readonly',
        URL: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
