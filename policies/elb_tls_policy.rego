package opsdeck.rules.elb_tls_policy

import rego.v1

metadata := {
	"id": "ELB-002",
	"title": "HTTPS/TLS listeners use a TLS 1.2+ forward-secrecy security policy",
	"severity": "high",
	"controls": ["SC-8", "SC-8(1)", "SC-13"],
	"resource_types": ["AWS::ElasticLoadBalancingV2::Listener"],
	"remediation": "Set SslPolicy to ELBSecurityPolicy-TLS13-1-2-Res-2021-06 (or another ELBSecurityPolicy-TLS13-* or -FS-1-2-* policy).",
}

findings contains finding if {
	some r in input.resources
	r.type == "AWS::ElasticLoadBalancingV2::Listener"
	object.get(r.properties, "Protocol", "") in {"HTTPS", "TLS"}
	policy := object.get(r.properties, "SslPolicy", "ELBSecurityPolicy-2016-08 (the default)")
	not modern(policy)
	finding := {
		"resource": r.id,
		"path": "Properties.SslPolicy",
		"message": sprintf("listener %s uses %v, which allows old TLS versions or ciphers", [r.id, policy]),
	}
}

modern(policy) if {
	is_string(policy)
	startswith(policy, "ELBSecurityPolicy-TLS13-")
}

modern(policy) if {
	is_string(policy)
	startswith(policy, "ELBSecurityPolicy-FS-1-2-")
}

# An unresolved intrinsic (a parameter with no default) cannot be judged here.
modern(policy) if is_object(policy)
