// Preact with htm's tagged templates: components read like HTML, with no JSX build step
// and no eval (the page's CSP allows no inline or evaluated script).
import { h } from "preact";
import htm from "htm";

export const html = htm.bind(h);
