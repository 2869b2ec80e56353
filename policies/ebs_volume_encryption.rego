package opsdeck.rules.ebs_volume_encryption

import rego.v1

metadata := {
	"id": "EBS-001",
	"title": "EBS volumes are encrypted at rest",
	"severity": "high",
	"controls": ["SC-28", "SC-28(1)"],
	"resource_types": ["AWS::EC2::Volume"],
	"remediation": "Set Encrypted to true (and KmsKeyId to a customer managed key where required).",
}

findings contains finding if {
	some r in input.resources
	r.type == "AWS::EC2::Volume"
	not is_true(object.get(r.properties, "Encrypted", false))
	finding := {
		"resource": r.id,
		"path": "Properties.Encrypted",
		"message": sprintf("volume %s is not encrypted", [r.id]),
	}
}

is_true(v) if v == true

is_true(v) if {
	is_string(v)
	lower(v) == "true"
}
