// Data forms (XEP-0004): read submissions, build forms.
export {
  buildField,
  buildForm,
  type FieldOption,
  type FieldType,
  FORM_TYPE_FIELD,
  FormError,
  type FormField,
  type FormSpec,
  type FormType,
  type ReadForm,
  readForm,
} from "./data_form.ts";
