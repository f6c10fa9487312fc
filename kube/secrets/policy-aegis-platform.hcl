# aegis-platform: the AppRole policy of the AEGIS runtime and SEAL gateway.
# Platform secrets under secret/aegis/, which includes every tenant's
# namespace (secret/aegis/tenants/<slug>/) and the aegis-system tenant.
path "secret/data/aegis/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}
path "secret/metadata/aegis/*" {
  capabilities = ["list", "read", "delete"]
}
# The runtime's own KV version 2 mount (kv/, kube/secrets/bootstrap.yaml),
# and the same mount inside each tenant's namespace ("+": OpenBao's whole-segment
# wildcard; a namespace is tenant-<slug>), which the runtime
# creates when a tenant is onboarded (sys/namespaces/tenant-<slug>):
# aegis-orchestrator orchestrator/core/src/domain/secrets.rs:147-153,
# orchestrator/core/src/infrastructure/secrets_manager.rs:420-490.
path "kv/data/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}
path "kv/metadata/*" {
  capabilities = ["list", "read", "delete"]
}
path "+/kv/data/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}
path "+/kv/metadata/*" {
  capabilities = ["list", "read", "delete"]
}
path "sys/namespaces/tenant-*" {
  capabilities = ["create", "read", "update", "delete"]
}
