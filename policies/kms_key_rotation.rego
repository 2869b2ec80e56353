package opsdeck.rules.kms_key_rotation

import rego.v1

metadata := {
	"id": "KMS-001",
	"title": "Symmetric KMS keys rotate their key material",
	"severity": "medium",
	"controls": ["SC-12", "SC-12(1)", "SC-13"],
	"resource_types": ["AWS::KMS::Key"],
	"remediation": "Set EnableKeyRotation to true (RotationPeriodInDays 365 or less).",
}

findings contains finding if {
	some r in input.resources
	r.type == "AWS::KMS::Key"
	object.get(r.properties, "KeySpec", "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT"
	not is_true(object.get(r.properties, "EnableKeyRotation", false))
	finding := {
		"resource": r.id,
		"path": "Properties.EnableKeyRotation",
		"message": sprintf("key %s never rotates its key material", [r.id]),
	}
}

is_true(v) if v == true

is_true(v) if {
	is_string(v)
	lower(v) == "true"
}
