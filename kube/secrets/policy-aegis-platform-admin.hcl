# aegis-platform-admin: operators logged in through Keycloak (OIDC).
path "secret/data/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}
path "secret/metadata/*" {
  capabilities = ["list", "read", "delete"]
}
path "pki/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}
path "auth/*" {
  capabilities = ["read", "list"]
}
path "sys/policies/*" {
  capabilities = ["read", "list"]
}
