package opsdeck.rules.k8s_resource_limits

import rego.v1

# Live workloads (and manifests): every kind that holds a pod template. Inputs of kind
# "kubernetes": see kube/compliance.rs.
metadata := {
	"id": "K8S-008",
	"title": "Containers set CPU and memory limits",
	"severity": "medium",
	"controls": ["SC-5", "CM-6"],
	"resource_types": ["k8s:v1:Pod", "k8s:apps/v1:Deployment", "k8s:apps/v1:StatefulSet", "k8s:apps/v1:DaemonSet", "k8s:apps/v1:ReplicaSet", "k8s:batch/v1:Job", "k8s:batch/v1:CronJob"],
	"remediation": "Set resources.limits.cpu and resources.limits.memory on every container (a LimitRange can default them).",
}

findings contains finding if {
	some r in input.resources
	some [path, c] in containers(r)
	some limit in ["cpu", "memory"]
	object.get(c, ["resources", "limits", limit], null) == null
	finding := {
		"resource": r.id,
		"path": sprintf("%s.resources.limits.%s", [path, limit]),
		"message": sprintf("container %s of %s has no %s limit: it can starve its node", [c.name, r.id, limit]),
	}
}

# The pod spec of each kind of workload, and where it is (for the finding's path).
workloads := {
	"k8s:v1:Pod",
	"k8s:apps/v1:Deployment",
	"k8s:apps/v1:StatefulSet",
	"k8s:apps/v1:DaemonSet",
	"k8s:apps/v1:ReplicaSet",
	"k8s:batch/v1:Job",
	"k8s:batch/v1:CronJob",
}

spec_path(r) := "spec" if r.type == "k8s:v1:Pod"

spec_path(r) := "spec.jobTemplate.spec.template.spec" if r.type == "k8s:batch/v1:CronJob"

spec_path(r) := "spec.template.spec" if {
	r.type in workloads
	r.type != "k8s:v1:Pod"
	r.type != "k8s:batch/v1:CronJob"
}

pod_spec(r) := object.get(r.properties, split(spec_path(r), "."), {})

# Every container (init containers first), with its path.
containers(r) := [[sprintf("%s.%s[%d]", [spec_path(r), field, i]), c] |
	some field in ["initContainers", "containers"]
	some i, c in object.get(pod_spec(r), field, [])
]
