package opsdeck.rules.s3_versioning

import rego.v1

metadata := {
	"id": "S3-004",
	"title": "S3 buckets keep object versions",
	"severity": "medium",
	"controls": ["CP-9", "SI-7"],
	"resource_types": ["AWS::S3::Bucket"],
	"remediation": "Set VersioningConfiguration.Status to Enabled (and expire noncurrent versions with a lifecycle rule).",
}

findings contains finding if {
	some r in input.resources
	r.type == "AWS::S3::Bucket"
	object.get(r.properties, ["VersioningConfiguration", "Status"], "") != "Enabled"
	finding := {
		"resource": r.id,
		"path": "Properties.VersioningConfiguration.Status",
		"message": sprintf("bucket %s does not keep object versions", [r.id]),
	}
}
