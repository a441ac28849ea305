// Applies the colour scheme: `data-theme` on <html> (app.css), remembered locally so the next
// start paints in it before the settings arrive.
import type { Theme } from "../bindings";

/** Sets the theme on the document and remembers it. */
export function applyTheme(theme: Theme): void {
  if (theme === "light" || theme === "dark") {
    document.documentElement.dataset.theme = theme;
    localStorage.setItem("theme", theme);
  } else {
    delete document.documentElement.dataset.theme;
    localStorage.removeItem("theme");
  }
}

/** The theme remembered by the last run ("system" when none). */
export function rememberedTheme(): Theme {
  const t = localStorage.getItem("theme");
  return t === "light" || t === "dark" ? t : "system";
}
