package opsdeck.rules.cloudtrail_kms_encryption

import rego.v1

metadata := {
	"id": "CT-003",
	"title": "CloudTrail trails encrypt their logs with a KMS key",
	"severity": "medium",
	"controls": ["AU-9", "AU-9(3)", "SC-28"],
	"resource_types": ["AWS::CloudTrail::Trail"],
	"remediation": "Set KMSKeyId to a customer managed KMS key.",
}

findings contains finding if {
	some r in input.resources
	r.type == "AWS::CloudTrail::Trail"
	object.get(r.properties, "KMSKeyId", "") == ""
	finding := {
		"resource": r.id,
		"path": "Properties.KMSKeyId",
		"message": sprintf("trail %s does not encrypt its logs with a KMS key", [r.id]),
	}
}

is_true(v) if v == true

is_true(v) if {
	is_string(v)
	lower(v) == "true"
}
