package opsdeck.rules.required_tags

import rego.v1

metadata := {
	"id": "TAG-001",
	"title": "Resources carry the Owner, Environment, ManagedBy and CostCenter tags",
	"severity": "low",
	"controls": ["CM-8", "CM-8(4)"],
	"resource_types": [
		"AWS::S3::Bucket", "AWS::EC2::Instance", "AWS::EC2::VPC", "AWS::EC2::Subnet",
		"AWS::EC2::SecurityGroup", "AWS::EC2::Volume", "AWS::RDS::DBInstance",
		"AWS::ElasticLoadBalancingV2::LoadBalancer", "AWS::KMS::Key", "AWS::EKS::Cluster",
		"AWS::IAM::Role", "AWS::Logs::LogGroup", "AWS::ElastiCache::ReplicationGroup",
	],
	"remediation": "Add Tags with the keys Owner, Environment, ManagedBy and CostCenter.",
}

required := ["Owner", "Environment", "ManagedBy", "CostCenter"]

findings contains finding if {
	some r in input.resources
	tags := object.get(r.properties, "Tags", [])
	# Tags as a list of {Key, Value} (most types), or as a map: one pass over either.
	keys := {t.Key | some t in tags} | {k | some k, _ in tags; is_string(k)}
	some key in required_set
	not key in keys
	finding := {
		"resource": r.id,
		"path": "Properties.Tags",
		"message": sprintf("%s has no %s tag", [r.id, key]),
	}
}

required_set := {k | some k in required}
