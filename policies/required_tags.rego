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
	some key in required_set - tag_keys(r.properties)
	finding := {
		"resource": r.id,
		"path": "Properties.Tags",
		"message": sprintf("%s has no %s tag", [r.id, key]),
	}
}

required_set := {k | some k in required}

# The resource's tag keys, worked out once per resource: tags as a list of {Key, Value}
# (most types) ...
tag_keys(props) := {tag.Key | some tag in props.Tags; is_object(tag)} if is_array(props.Tags)

# ... or as a map.
tag_keys(props) := {k | some k, _ in props.Tags} if is_object(props.Tags)

tag_keys(props) := set() if {
	not is_array(props.Tags)
	not is_object(props.Tags)
}
