// Which elements inside a container take keyboard focus, in Tab order (the dialogs keep Tab
// inside themselves with it).

const SELECTOR = [
  "a[href]",
  "button:not([disabled])",
  "input:not([disabled]):not([type=hidden])",
  "select:not([disabled])",
  "textarea:not([disabled])",
  "summary",
  '[tabindex]:not([tabindex="-1"])',
].join(",");

/** The focusable, visible elements inside `root`, in document order. */
export function focusables(root: ParentNode): HTMLElement[] {
  return Array.from(root.querySelectorAll<HTMLElement>(SELECTOR)).filter(
    (e) => !e.closest("[inert]") && e.getClientRects().length > 0,
  );
}
