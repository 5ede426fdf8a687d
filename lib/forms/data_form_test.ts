import { strict as assert } from "node:assert";
import { el } from "../xml/element.ts";
import { NS } from "../stanza/ns.ts";
import { buildForm, FormError, readForm } from "./data_form.ts";

Deno.test("readForm() reads type, FORM_TYPE and values in order", () => {
  const x = el(
    "x",
    { xmlns: NS.DATA_FORMS, type: "submit" },
    el("field", { var: "FORM_TYPE" }, el("value", {}, NS.MUC_ROOMCONFIG)),
    el("field", { var: "a" }, el("value", {}, "1"), el("value", {}, "2")),
    el("field", { var: "empty" }, el("value")),
    el("field", { var: "none" }),
    el("field", { type: "fixed" }, el("value", {}, "label only")),
  );
  const form = readForm(x);
  assert.equal(form.type, "submit");
  assert.equal(form.formType, NS.MUC_ROOMCONFIG);
  assert.deepEqual([...form.fields], [
    ["FORM_TYPE", [NS.MUC_ROOMCONFIG]],
    ["a", ["1", "2"]],
    ["empty", [""]],
    ["none", []],
  ]);
});

Deno.test("readForm() refuses other elements, bad types and repeated fields", () => {
  assert.throws(() => readForm(el("x", { xmlns: "urn:other", type: "submit" })), FormError);
  assert.throws(() => readForm(el("x", { xmlns: NS.DATA_FORMS })), /unknown form type ""/);
  assert.throws(() => readForm(el("x", { xmlns: NS.DATA_FORMS, type: "nope" })), FormError);
  assert.throws(
    () =>
      readForm(
        el(
          "x",
          { xmlns: NS.DATA_FORMS, type: "submit" },
          el("field", { var: "a" }),
          el("field", {
            var: "a",
          }),
        ),
      ),
    /field "a" appears twice/,
  );
});

Deno.test("buildForm() puts FORM_TYPE first and fields in XEP-0004 order", () => {
  const x = buildForm({
    type: "form",
    formType: "urn:example",
    title: "T",
    fields: [
      { var: "b", type: "boolean", label: "B", values: ["1"] },
      {
        var: "l",
        type: "list-single",
        values: ["x"],
        options: [{ value: "x", label: "X" }, { value: "y" }],
      },
      { var: "p", type: "text-private", values: [] },
    ],
  });
  assert.equal(
    x.toString(),
    "<x xmlns='jabber:x:data' type='form'><title>T</title>" +
      "<field var='FORM_TYPE' type='hidden'><value>urn:example</value></field>" +
      "<field var='b' type='boolean' label='B'><value>1</value></field>" +
      "<field var='l' type='list-single'><value>x</value>" +
      "<option label='X'><value>x</value></option><option><value>y</value></option></field>" +
      "<field var='p' type='text-private'/></x>",
  );
  const back = readForm(x);
  assert.equal(back.formType, "urn:example");
  assert.deepEqual(back.fields.get("l"), ["x"]);
});
