package opsdeck.rules.rds_backup_retention

import rego.v1

metadata := {
	"id": "RDS-003",
	"title": "RDS databases keep automated backups for at least 7 days",
	"severity": "medium",
	"controls": ["CP-9", "CP-10"],
	"resource_types": ["AWS::RDS::DBInstance", "AWS::RDS::DBCluster"],
	"remediation": "Set BackupRetentionPeriod to 7 days or more (the default is 1).",
}

minimum := 7

findings contains finding if {
	some r in input.resources
	standalone(r)
	not kept_long_enough(r)
	finding := {
		"resource": r.id,
		"path": "Properties.BackupRetentionPeriod",
		"message": sprintf("database %s keeps backups for fewer than %d days", [r.id, minimum]),
	}
}

# Absent means the default of 1 day; an unresolved intrinsic cannot be judged and passes.
kept_long_enough(r) if num(r.properties.BackupRetentionPeriod) >= minimum

kept_long_enough(r) if {
	days := r.properties.BackupRetentionPeriod
	is_object(days)
}

# Instances of an Aurora cluster take storage, backups and deletion protection from the cluster.
standalone(r) if {
	r.type == "AWS::RDS::DBInstance"
	not r.properties.DBClusterIdentifier
}

standalone(r) if r.type == "AWS::RDS::DBCluster"

# A number, or a string that holds one; anything else (an unresolved intrinsic) is undefined.
num(v) := v if is_number(v)

num(v) := to_number(v) if {
	is_string(v)
	v != ""
	every c in split(trim_left(v, "-"), "") {
		c in {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "."}
	}
}
