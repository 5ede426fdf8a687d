// Affiliations and roles. XEP-0045 §5.1 (roles), §5.2 (affiliations), §5.1.2 (default roles).

/** A long-lived relation between a bare JID and a room (XEP-0045 §5.2). */
export type Affiliation = "owner" | "admin" | "member" | "none" | "outcast";

/** A relation that lasts one visit (XEP-0045 §5.1). `none` means "not in the room". */
export type Role = "moderator" | "participant" | "visitor" | "none";

/** Affiliations ordered by privilege: compare ranks, not names. */
export const AFFILIATION_RANK: Readonly<Record<Affiliation, number>> = {
  outcast: -1,
  none: 0,
  member: 1,
  admin: 2,
  owner: 3,
};

/** Roles ordered by privilege. */
export const ROLE_RANK: Readonly<Record<Role, number>> = {
  none: 0,
  visitor: 1,
  participant: 2,
  moderator: 3,
};

/** True when `affiliation` is `min` or higher. */
export function hasAffiliation(affiliation: Affiliation, min: Affiliation): boolean {
  return AFFILIATION_RANK[affiliation] >= AFFILIATION_RANK[min];
}

/** True when `role` is `min` or higher. */
export function hasRole(role: Role, min: Role): boolean {
  return ROLE_RANK[role] >= ROLE_RANK[min];
}

/**
 * XEP-0045 §5.1.2: the role an occupant starts with, before room options (a moderated room turns
 * `participant` into `visitor` for unaffiliated users) have their say.
 */
export function defaultRole(affiliation: Affiliation): Role {
  switch (affiliation) {
    case "owner":
    case "admin":
      return "moderator";
    case "member":
    case "none":
      return "participant";
    case "outcast":
      return "none";
  }
}
