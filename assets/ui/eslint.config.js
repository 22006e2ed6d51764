// Lints the UI's TypeScript: the recommended rules of ESLint and typescript-eslint, and
// React's rules of hooks with exhaustive effect dependencies (the React Compiler's stricter
// rules are not enabled: pages reset their state in effects when the query changes).
import js from "@eslint/js";
import reactHooks from "eslint-plugin-react-hooks";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist", "node_modules", "src/schema.d.ts"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["src/**/*.{ts,tsx}"],
    plugins: { "react-hooks": reactHooks },
    rules: { "react-hooks/rules-of-hooks": "error", "react-hooks/exhaustive-deps": "error" },
  },
  {
    files: ["e2e/**/*.mjs"],
    languageOptions: {
      globals: {
        process: "readonly",
        console: "readonly",
        window: "readonly",
        document: "readonly",
        setTimeout: "readonly",
        URL: "readonly",
        performance: "readonly",
        MutationObserver: "readonly",
        requestAnimationFrame: "readonly",
      },
    },
  },
);
