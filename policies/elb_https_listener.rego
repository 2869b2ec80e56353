package opsdeck.rules.elb_https_listener

import rego.v1

metadata := {
	"id": "ELB-001",
	"title": "Load balancer listeners use HTTPS/TLS; plain HTTP only redirects to HTTPS",
	"severity": "high",
	"controls": ["SC-8", "SC-8(1)", "SC-23"],
	"resource_types": ["AWS::ElasticLoadBalancingV2::Listener"],
	"remediation": "Use Protocol HTTPS with a certificate, or make the HTTP listener's default action a redirect to HTTPS.",
}

encrypted_or_layer4 := {"HTTPS", "TLS", "TCP", "UDP", "TCP_UDP"}

findings contains finding if {
	some r in input.resources
	r.type == "AWS::ElasticLoadBalancingV2::Listener"
	not object.get(r.properties, "Protocol", "") in encrypted_or_layer4
	not redirects_to_https(r.properties)
	finding := {
		"resource": r.id,
		"path": "Properties.Protocol",
		"message": sprintf("listener %s serves plain HTTP instead of redirecting to HTTPS", [r.id]),
	}
}

redirects_to_https(props) if {
	count(props.DefaultActions) > 0
	every action in props.DefaultActions {
		action.Type == "redirect"
		action.RedirectConfig.Protocol == "HTTPS"
	}
}
