# eca-rotator: an application that consumes credentials (one team, one prefix)
# Copy this file once per team and replace `payments` with the team's folder, e.g. consumer-billing.hcl with
# "secret/data/api-credentials/billing/*". Give each application its own copy (or an AppRole/Kubernetes role
# bound to it) so a compromised app exposes one team's credentials, not all of them.
#
# read on data/ returns the current version (client_id, api_key) and, during a rotation's soak, the previous pair
# in previous_client_id/previous_key; ?version=N reads an older version. Nothing else: no metadata, no list, no
# writes, and nothing outside the team's folder.
path "secret/data/api-credentials/payments/*" {
  capabilities = ["read"]
}
