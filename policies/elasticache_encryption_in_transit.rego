package opsdeck.rules.elasticache_encryption_in_transit

import rego.v1

metadata := {
	"id": "ECACHE-002",
	"title": "ElastiCache replication groups encrypt data in transit",
	"severity": "high",
	"controls": ["SC-8", "SC-8(1)"],
	"resource_types": ["AWS::ElastiCache::ReplicationGroup"],
	"remediation": "Set TransitEncryptionEnabled to true (with TransitEncryptionMode required).",
}

findings contains finding if {
	some r in input.resources
	r.type == "AWS::ElastiCache::ReplicationGroup"
	not is_true(object.get(r.properties, "TransitEncryptionEnabled", false))
	finding := {
		"resource": r.id,
		"path": "Properties.TransitEncryptionEnabled",
		"message": sprintf("replication group %s sends data unencrypted", [r.id]),
	}
}

is_true(v) if v == true

is_true(v) if {
	is_string(v)
	lower(v) == "true"
}
