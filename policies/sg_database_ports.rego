package opsdeck.rules.sg_database_ports

import rego.v1

metadata := {
	"id": "SG-002",
	"title": "Security groups do not open database and cache ports to the internet",
	"severity": "critical",
	"controls": ["SC-7", "SC-7(5)", "AC-4"],
	"resource_types": ["AWS::EC2::SecurityGroup", "AWS::EC2::SecurityGroupIngress"],
	"remediation": "Allow these ports only from specific CIDRs or security groups (for remote administration prefer SSM Session Manager).",
}

ports := [1433, 1521, 2483, 2484, 3306, 5432, 5439, 6379, 9042, 9200, 9300, 11211, 27017, 27018]

findings contains finding if {
	some entry in ingress
	rule := entry[2]
	key := from_anywhere(rule)
	some port in open_ports(rule)
	finding := {
		"resource": entry[0],
		"path": sprintf("%s.%s", [entry[1], key]),
		"message": sprintf("%s opens database port %d to %s", [entry[0], port, rule[key]]),
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
