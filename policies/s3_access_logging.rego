package opsdeck.rules.s3_access_logging

import rego.v1

# Applies to buckets of a PRD environment: the bucket's own Environment tag when it is known,
# else the environment the template is judged for. A bucket that receives access logs itself
# (named as another bucket's log destination, or with the LogDeliveryWrite ACL) is exempt:
# logging it would log the logs.
metadata := {
	"id": "S3-005",
	"title": "PRD S3 buckets record server access logs in another bucket",
	"severity": "medium",
	"controls": ["AU-2", "AU-12"],
	"resource_types": ["AWS::S3::Bucket"],
	"remediation": "Set LoggingConfiguration.DestinationBucketName to a separate log bucket (in the library template: the AccessLogBucketName parameter).",
}

findings contains finding if {
	some r in input.resources
	r.type == "AWS::S3::Bucket"
	environment(r) == "PRD"
	not logged(r)
	not log_destination(r)
	finding := {
		"resource": r.id,
		"path": "Properties.LoggingConfiguration",
		"message": sprintf("PRD bucket %s records no server access logs", [r.id]),
	}
}

logged(r) if {
	dest := r.properties.LoggingConfiguration.DestinationBucketName
	dest != ""
	dest != {"Ref": r.id}
}

log_destination(r) if r.properties.AccessControl == "LogDeliveryWrite"

log_destination(r) if {
	{"Ref": r.id} in referenced_destinations
}

log_destination(r) if {
	is_string(r.properties.BucketName)
	r.properties.BucketName in named_destinations
}

# Every other bucket's log destination, collected once (not once per bucket).
referenced_destinations contains dest if {
	some other in input.resources
	other.type == "AWS::S3::Bucket"
	dest := other.properties.LoggingConfiguration.DestinationBucketName
	dest != {"Ref": other.id}
}

named_destinations contains dest if {
	some other in input.resources
	other.type == "AWS::S3::Bucket"
	dest := other.properties.LoggingConfiguration.DestinationBucketName
	is_string(dest)
	dest != other.properties.BucketName
}

environment(r) := env if {
	some tag in r.properties.Tags
	tag.Key == "Environment"
	is_string(tag.Value)
	env := upper(tag.Value)
}

environment(r) := input.context.environment if {
	not tagged_environment(r)
}

tagged_environment(r) if {
	some tag in r.properties.Tags
	tag.Key == "Environment"
	is_string(tag.Value)
}
