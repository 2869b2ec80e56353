package opsdeck.rules.s3_public_access

import rego.v1

metadata := {
	"id": "S3-002",
	"title": "S3 buckets block every form of public access",
	"severity": "high",
	"controls": ["AC-3", "AC-4", "SC-7"],
	"resource_types": ["AWS::S3::Bucket"],
	"remediation": "Set PublicAccessBlockConfiguration with BlockPublicAcls, BlockPublicPolicy, IgnorePublicAcls and RestrictPublicBuckets all true.",
}

settings := ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"]

findings contains finding if {
	some r in input.resources
	r.type == "AWS::S3::Bucket"
	some setting in settings
	not is_true(object.get(r.properties, ["PublicAccessBlockConfiguration", setting], false))
	finding := {
		"resource": r.id,
		"path": sprintf("Properties.PublicAccessBlockConfiguration.%s", [setting]),
		"message": sprintf("bucket %s does not set %s to true", [r.id, setting]),
	}
}

is_true(v) if v == true

is_true(v) if v == "true"
