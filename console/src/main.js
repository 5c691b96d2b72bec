import { render } from "preact";
import { html } from "./html.js";
import { App } from "./app.js";
import { interceptLinks } from "./router.js";

interceptLinks();
render(html`<${App} />`, document.getElementById("app"));
