// Accounts: create, change password, remove; the SASL credential source.
export { AccountError, Accounts } from "./accounts.ts";
