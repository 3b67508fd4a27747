/** Vault, agent, service and admin-token names: lower case, safe in URLs and on a command line. */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;
