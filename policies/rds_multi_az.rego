package opsdeck.rules.rds_multi_az

import rego.v1

# PRD only: the instance's Environment tag when it is known, else the environment the
# template is judged for.
metadata := {
	"id": "RDS-005",
	"title": "PRD RDS instances run Multi-AZ",
	"severity": "medium",
	"controls": ["CP-10", "CP-7", "SC-5"],
	"resource_types": ["AWS::RDS::DBInstance"],
	"remediation": "Set MultiAZ to true for PRD database instances.",
}

findings contains finding if {
	some r in input.resources
	r.type == "AWS::RDS::DBInstance"
	not r.properties.DBClusterIdentifier
	environment(r) == "PRD"
	not is_true(object.get(r.properties, "MultiAZ", false))
	finding := {
		"resource": r.id,
		"path": "Properties.MultiAZ",
		"message": sprintf("PRD database instance %s has no standby in another Availability Zone", [r.id]),
	}
}

environment(r) := upper(tag.Value) if {
	some tag in r.properties.Tags
	tag.Key == "Environment"
	is_string(tag.Value)
}

environment(r) := input.context.environment if {
	not tagged_environment(r)
}

tagged_environment(r) if {
	some tag in r.properties.Tags
	tag.Key == "Environment"
	is_string(tag.Value)
}

is_true(v) if v == true

is_true(v) if {
	is_string(v)
	lower(v) == "true"
}
