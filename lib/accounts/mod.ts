// Accounts: create, change password, remove; the SASL credential source.
export {
  AccountError,
  type AccountErrorReason,
  Accounts,
  type AccountsOptions,
} from "./accounts.ts";
