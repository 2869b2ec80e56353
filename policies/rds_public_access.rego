package opsdeck.rules.rds_public_access

import rego.v1

metadata := {
	"id": "RDS-002",
	"title": "RDS instances are not publicly accessible",
	"severity": "critical",
	"controls": ["AC-3", "SC-7"],
	"resource_types": ["AWS::RDS::DBInstance"],
	"remediation": "Set PubliclyAccessible to false and reach the database from inside the VPC.",
}

findings contains finding if {
	some r in input.resources
	r.type == "AWS::RDS::DBInstance"
	is_true(object.get(r.properties, "PubliclyAccessible", false))
	finding := {
		"resource": r.id,
		"path": "Properties.PubliclyAccessible",
		"message": sprintf("database instance %s has a public address", [r.id]),
	}
}

is_true(v) if v == true

is_true(v) if {
	is_string(v)
	lower(v) == "true"
}
