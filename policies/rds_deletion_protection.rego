package opsdeck.rules.rds_deletion_protection

import rego.v1

metadata := {
	"id": "RDS-004",
	"title": "RDS databases have deletion protection",
	"severity": "medium",
	"controls": ["CP-9", "CP-10", "SI-12"],
	"resource_types": ["AWS::RDS::DBInstance", "AWS::RDS::DBCluster"],
	"remediation": "Set DeletionProtection to true.",
}

findings contains finding if {
	some r in input.resources
	standalone(r)
	not is_true(object.get(r.properties, "DeletionProtection", false))
	finding := {
		"resource": r.id,
		"path": "Properties.DeletionProtection",
		"message": sprintf("database %s can be deleted without first lifting deletion protection", [r.id]),
	}
}

# Instances of an Aurora cluster take storage, backups and deletion protection from the cluster.
standalone(r) if {
	r.type == "AWS::RDS::DBInstance"
	not r.properties.DBClusterIdentifier
}

standalone(r) if r.type == "AWS::RDS::DBCluster"

is_true(v) if v == true

is_true(v) if {
	is_string(v)
	lower(v) == "true"
}
