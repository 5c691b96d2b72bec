// Screens whose code loads when they are first opened: the first load carries only the
// frame and the pages anyone may open (sign-in and the emailed links), and an admin screen
// costs its bytes once, when someone opens it.
import { useEffect, useState } from "preact/hooks";
import { html } from "./html.js";
import { Alert, Spinner } from "./ui.js";

/** A component rendering `name` from the module `load()` imports (`import("./x.js")`). */
export function lazy(load, name) {
  let Screen = null;
  let loading = null;
  return function Lazy(props) {
    const [, loaded] = useState(0);
    const [failed, setFailed] = useState(false);
    useEffect(() => {
      if (Screen) return;
      loading ??= load().then((module) => {
        Screen = module[name];
      });
      loading.then(
        () => loaded((n) => n + 1),
        () => {
          // A later visit tries again (a deploy may have replaced the file meanwhile).
          loading = null;
          setFailed(true);
        },
      );
    }, []);
    if (failed) return html`<${Alert}>This screen could not be loaded. Check your connection and reload the page.</${Alert}>`;
    return Screen ? html`<${Screen} ...${props} />` : html`<${Spinner} />`;
  };
}
