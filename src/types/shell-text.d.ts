// Remote shell modules are imported as text: esbuild's text loader in the
// bundle, a require hook in the compiled tests (test/support/shellText.ts).
declare module '*.sh' {
  const text: string;
  export default text;
}
