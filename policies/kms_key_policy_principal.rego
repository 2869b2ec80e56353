package opsdeck.rules.kms_key_policy_principal

import rego.v1

metadata := {
	"id": "KMS-002",
	"title": "KMS key policies do not allow any principal (*)",
	"severity": "high",
	"controls": ["AC-3", "AC-6", "SC-12"],
	"resource_types": ["AWS::KMS::Key"],
	"remediation": "Name the account root or the roles that may use the key instead of Principal *.",
}

findings contains finding if {
	some r in input.resources
	r.type == "AWS::KMS::Key"
	some i, s in as_list(r.properties.KeyPolicy.Statement)
	s.Effect == "Allow"
	wildcard(s.Principal)
	finding := {
		"resource": r.id,
		"path": sprintf("Properties.KeyPolicy.Statement.%d.Principal", [i]),
		"message": sprintf("key %s lets any principal use it", [r.id]),
	}
}

wildcard(p) if p == "*"

wildcard(p) if "*" in as_list(p.AWS)

as_list(x) := x if is_array(x)

as_list(x) := [x] if not is_array(x)
