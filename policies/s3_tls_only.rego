package opsdeck.rules.s3_tls_only

import rego.v1

metadata := {
	"id": "S3-003",
	"title": "S3 buckets refuse requests that do not use TLS",
	"severity": "high",
	"controls": ["SC-8", "SC-8(1)", "AC-17(2)"],
	"resource_types": ["AWS::S3::Bucket"],
	"reads": ["AWS::S3::BucketPolicy"],
	"remediation": "Add an AWS::S3::BucketPolicy for the bucket with a Deny statement on s3:* when aws:SecureTransport is false.",
}

findings contains finding if {
	some r in input.resources
	r.type == "AWS::S3::Bucket"
	not tls_only(r)
	finding := {
		"resource": r.id,
		"path": "Properties",
		"message": sprintf("no bucket policy of %s denies requests without TLS (aws:SecureTransport false)", [r.id]),
	}
}

tls_only(bucket) if {"Ref": bucket.id} in guarded

tls_only(bucket) if {
	is_string(bucket.properties.BucketName)
	bucket.properties.BucketName in guarded
}

# The Bucket of every policy that denies requests without TLS, collected once (not once per
# bucket): `!Ref Bucket` or a literal name.
guarded contains p.properties.Bucket if {
	some p in input.resources
	p.type == "AWS::S3::BucketPolicy"
	some s in as_list(p.properties.PolicyDocument.Statement)
	s.Effect == "Deny"
	denies_all_s3(s)
	some op in ["Bool", "BoolIfExists"]
	is_false(s.Condition[op]["aws:SecureTransport"])
}

denies_all_s3(s) if {
	some a in as_list(s.Action)
	a in {"*", "s3:*"}
}

is_false(v) if v == false

is_false(v) if {
	is_string(v)
	lower(v) == "false"
}

as_list(x) := x if is_array(x)

as_list(x) := [x] if not is_array(x)
