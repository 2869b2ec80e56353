package opsdeck.rules.elb_drop_invalid_headers

import rego.v1

metadata := {
	"id": "ELB-004",
	"title": "Application load balancers drop invalid HTTP header fields",
	"severity": "low",
	"controls": ["SI-10", "SC-7"],
	"resource_types": ["AWS::ElasticLoadBalancingV2::LoadBalancer"],
	"remediation": "Add the LoadBalancerAttribute routing.http.drop_invalid_header_fields.enabled true.",
}

findings contains finding if {
	some r in input.resources
	r.type == "AWS::ElasticLoadBalancingV2::LoadBalancer"
	object.get(r.properties, "Type", "application") in {"application"}
	not attribute_true(r.properties, "routing.http.drop_invalid_header_fields.enabled")
	finding := {
		"resource": r.id,
		"path": "Properties.LoadBalancerAttributes",
		"message": sprintf("load balancer %s forwards invalid HTTP header fields", [r.id]),
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
