# OpenBao server configuration for pod-secrets.
#
# Storage: the file backend on the aegis-openbao-data volume, mounted at
# /openbao/file, the directory the image's entrypoint hands to the openbao
# user (a fresh volume elsewhere would stay root-owned and unwritable).
#
# The server starts sealed and uninitialised; `aegis-deploy bootstrap-secrets`
# initialises and unseals it, enables AppRole auth and the KV mount.

ui            = true
disable_mlock = true   # rootless Podman cannot grant IPC_LOCK
api_addr      = "http://pod-secrets:8200"

storage "file" {
  path = "/openbao/file"
}

# Plain HTTP on the pod network (aegis-network) and the published host port;
# TLS is terminated in front of the platform, not here.
listener "tcp" {
  address     = "0.0.0.0:8200"
  tls_disable = true

  # Behind the edge (Caddy on the pod network): trust its X-Forwarded-For
  # for the client address; direct clients without the header are fine.
  x_forwarded_for_authorized_addrs   = "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16"
  x_forwarded_for_reject_not_present = false

  telemetry {
    unauthenticated_metrics_access = true
  }
}

# Metrics at /v1/sys/metrics?format=prometheus for pod-observability.
telemetry {
  prometheus_retention_time = "24h"
  disable_hostname          = true
}
