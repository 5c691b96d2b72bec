// A phone number as the seed forms ask for it: a country calling code and the number.
import { html } from "./html.js";
import { Field } from "./ui.js";

/** "+49 1701234567" → ["+49", "1701234567"]; an E.164 number splits at a known code's end. */
export function splitPhone(e164) {
  if (!e164) return ["", ""];
  const m = /^(\+\d{1,3}?)(\d{6,14})$/.exec(e164);
  return m ? [m[1], m[2]] : ["", e164];
}

export function PhoneFields({ code, number, onCode, onNumber, errors = {} }) {
  return html`<fieldset class="phone">
    <legend>Mobile phone</legend>
    <div class="row">
      <${Field} label="Country code" value=${code} onInput=${onCode} placeholder="+1" autocomplete="tel-country-code"
        error=${errors.country_code} inputmode="tel" />
      <${Field} label="Number" value=${number} onInput=${onNumber} autocomplete="tel-national"
        error=${errors.mobile_number || errors.phone} inputmode="tel" />
    </div>
  </fieldset>`;
}
