package opsdeck.rules.elasticache_encryption_at_rest

import rego.v1

metadata := {
	"id": "ECACHE-001",
	"title": "ElastiCache replication groups encrypt data at rest",
	"severity": "high",
	"controls": ["SC-28", "SC-28(1)"],
	"resource_types": ["AWS::ElastiCache::ReplicationGroup"],
	"remediation": "Set AtRestEncryptionEnabled to true (it cannot be changed after creation).",
}

findings contains finding if {
	some r in input.resources
	r.type == "AWS::ElastiCache::ReplicationGroup"
	not is_true(object.get(r.properties, "AtRestEncryptionEnabled", false))
	finding := {
		"resource": r.id,
		"path": "Properties.AtRestEncryptionEnabled",
		"message": sprintf("replication group %s does not encrypt data at rest", [r.id]),
	}
}

is_true(v) if v == true

is_true(v) if {
	is_string(v)
	lower(v) == "true"
}
