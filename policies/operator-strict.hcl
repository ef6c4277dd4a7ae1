# eca-rotator: operators who trigger rotations, strict variant (see operator.hcl for the usual one)
#   bao kv metadata patch -mount=secret -custom-metadata=rotate=now api-credentials/payments/stripe
#
# Enforced (tested against a real OpenBao server): the only request allowed is a metadata PATCH under
# api-credentials/ whose whole body is exactly {"custom_metadata": {"rotate": "now"}} or
# {"custom_metadata": {"rotate": "emergency"}}. Any other key, value, extra key (rotate_reason included),
# removal (null) or other metadata field is refused with 403, as are data access, reads, lists, deletes and POST.
# Allowed values of a map parameter are compared exactly (globs apply only to plain strings), which is what makes
# this possible, and also why rotate_reason cannot be allowed: it is free text. Record the reason in your incident
# tool instead; the server audit log ties the PATCH to the operator.
path "secret/metadata/api-credentials/*" {
  capabilities = ["patch"]
  allowed_parameters = {
    "custom_metadata" = [{ rotate = "now" }, { rotate = "emergency" }]
  }
}
