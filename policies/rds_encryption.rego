package opsdeck.rules.rds_encryption

import rego.v1

metadata := {
	"id": "RDS-001",
	"title": "RDS databases encrypt their storage",
	"severity": "high",
	"controls": ["SC-28", "SC-28(1)"],
	"resource_types": ["AWS::RDS::DBInstance", "AWS::RDS::DBCluster"],
	"remediation": "Set StorageEncrypted to true (and KmsKeyId to a customer managed key where required).",
}

findings contains finding if {
	some r in input.resources
	standalone(r)
	not is_true(object.get(r.properties, "StorageEncrypted", false))
	finding := {
		"resource": r.id,
		"path": "Properties.StorageEncrypted",
		"message": sprintf("database %s does not encrypt its storage", [r.id]),
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
