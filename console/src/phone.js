// A phone number as the seed forms ask for it: a country calling code and the number.
import { html } from "./html.js";
import { Field } from "./ui.js";

/**
 * Country calling codes are a prefix code (ITU-T E.164): 1 and 7 are one digit, these are
 * two, and every other code is three. So an E.164 number splits exactly without a table
 * of every country.
 */
const TWO_DIGIT_CODES = new Set([
  "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46", "47",
  "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63", "64", "65",
  "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
]);

/** "+491701234567" → ["+49", "1701234567"]; "+35679123456" → ["+356", "79123456"]. */
export function splitPhone(e164) {
  if (!e164) return ["", ""];
  const digits = /^\+(\d{7,15})$/.exec(e164)?.[1];
  if (!digits) return ["", e164];
  const length = "17".includes(digits[0]) ? 1 : TWO_DIGIT_CODES.has(digits.slice(0, 2)) ? 2 : 3;
  return [`+${digits.slice(0, length)}`, digits.slice(length)];
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
