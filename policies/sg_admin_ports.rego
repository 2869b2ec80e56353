package opsdeck.rules.sg_admin_ports

import rego.v1

metadata := {
	"id": "SG-001",
	"title": "Security groups do not open remote administration ports (SSH, RDP, WinRM) to the internet",
	"severity": "critical",
	"controls": ["AC-17", "SC-7", "SC-7(5)"],
	"resource_types": ["AWS::EC2::SecurityGroup", "AWS::EC2::SecurityGroupIngress"],
	"remediation": "Allow these ports only from specific CIDRs or security groups (for remote administration prefer SSM Session Manager).",
}

ports := [22, 3389, 5985, 5986]

findings contains finding if {
	some entry in ingress
	rule := entry[2]
	key := from_anywhere(rule)
	some port in open_ports(rule)
	finding := {
		"resource": entry[0],
		"path": sprintf("%s.%s", [entry[1], key]),
		"message": sprintf("%s opens administration port %d to %s", [entry[0], port, rule[key]]),
	}
}

# [resource id, path of the rule, rule] of every ingress rule.
ingress contains [r.id, sprintf("Properties.SecurityGroupIngress.%d", [i]), rule] if {
	some r in input.resources
	r.type == "AWS::EC2::SecurityGroup"
	some i, rule in r.properties.SecurityGroupIngress
}

ingress contains [r.id, "Properties", r.properties] if {
	some r in input.resources
	r.type == "AWS::EC2::SecurityGroupIngress"
}

from_anywhere(rule) := "CidrIp" if rule.CidrIp == "0.0.0.0/0"

from_anywhere(rule) := "CidrIpv6" if rule.CidrIpv6 == "::/0"

# IpProtocol -1 (or "all") opens every port; tcp (6) and udp (17) open FromPort..ToPort
# (RDP, DNS-based and some database services listen on UDP too).
open_ports(rule) := {p | some p in ports} if lower(sprintf("%v", [rule.IpProtocol])) in {"-1", "all"}

open_ports(rule) := {p | some p in ports; lo <= p; p <= hi} if {
	lower(sprintf("%v", [rule.IpProtocol])) in {"tcp", "6", "udp", "17"}
	lo := num(rule.FromPort)
	hi := num(rule.ToPort)
}

# A number, or a string that holds one; anything else (an unresolved intrinsic) is undefined.
num(v) := v if is_number(v)

num(v) := to_number(v) if {
	is_string(v)
	v != ""
	every c in split(trim_left(v, "-"), "") {
		c in {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
	}
}
