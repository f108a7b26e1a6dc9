// Two DOM helpers every demo page uses.

/** `document.getElementById`. */
export const $ = (id) => document.getElementById(id);

/** Creates an element with properties and children. */
export const el = (tag, props = {}, ...kids) => {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...kids);
  return e;
};
