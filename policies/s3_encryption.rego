package opsdeck.rules.s3_encryption

import rego.v1

metadata := {
	"id": "S3-001",
	"title": "S3 buckets encrypt objects at rest by default",
	"severity": "high",
	"controls": ["SC-28", "SC-28(1)"],
	"resource_types": ["AWS::S3::Bucket"],
	"remediation": "Set BucketEncryption.ServerSideEncryptionConfiguration with SSEAlgorithm aws:kms (or AES256).",
}

algorithms := {"aws:kms", "aws:kms:dsse", "AES256"}

findings contains finding if {
	some r in input.resources
	r.type == "AWS::S3::Bucket"
	not encrypted(r.properties)
	finding := {
		"resource": r.id,
		"path": "Properties.BucketEncryption",
		"message": sprintf("bucket %s has no default encryption", [r.id]),
	}
}

encrypted(props) if {
	some rule in props.BucketEncryption.ServerSideEncryptionConfiguration
	rule.ServerSideEncryptionByDefault.SSEAlgorithm in algorithms
}
