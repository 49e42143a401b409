// A tiny element builder: typed tags (including the @vscode-elements ones),
// properties assigned directly (never HTML strings), children appended as
// nodes or text.
type Settable<E> = {
  [K in keyof E as E[K] extends (...args: never[]) => unknown ? never : K]?: E[K];
};

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Settable<HTMLElementTagNameMap[K]> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  Object.assign(element, props);
  element.append(...children);
  return element;
}
