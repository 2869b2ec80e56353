package opsdeck.rules.elb_access_logs

import rego.v1

metadata := {
	"id": "ELB-003",
	"title": "Load balancers write access logs to S3",
	"severity": "medium",
	"controls": ["AU-2", "AU-12"],
	"resource_types": ["AWS::ElasticLoadBalancingV2::LoadBalancer"],
	"remediation": "Add the LoadBalancerAttributes access_logs.s3.enabled true and access_logs.s3.bucket.",
}

findings contains finding if {
	some r in input.resources
	r.type == "AWS::ElasticLoadBalancingV2::LoadBalancer"
	object.get(r.properties, "Type", "application") in {"application", "network"}
	not attribute_true(r.properties, "access_logs.s3.enabled")
	finding := {
		"resource": r.id,
		"path": "Properties.LoadBalancerAttributes",
		"message": sprintf("load balancer %s writes no access logs", [r.id]),
	}
}

attribute_true(props, key) if {
	some a in props.LoadBalancerAttributes
	a.Key == key
	is_true(a.Value)
}

is_true(v) if v == true

is_true(v) if {
	is_string(v)
	lower(v) == "true"
}
