# aegis-platform: the AppRole policy of the AEGIS runtime and SEAL gateway.
# Platform secrets under secret/aegis/, which includes every tenant's
# namespace (secret/aegis/tenants/<slug>/) and the aegis-system tenant.
path "secret/data/aegis/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}
path "secret/metadata/aegis/*" {
  capabilities = ["list", "read", "delete"]
}
