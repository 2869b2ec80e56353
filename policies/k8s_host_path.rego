package opsdeck.rules.k8s_host_path

import rego.v1

# Live workloads (and manifests): every kind that holds a pod template. Inputs of kind
# "kubernetes": see kube/compliance.rs.
metadata := {
	"id": "K8S-006",
	"title": "Pods mount no directory of the node (hostPath)",
	"severity": "high",
	"controls": ["SC-39", "AC-6", "CM-7"],
	"resource_types": ["k8s:v1:Pod", "k8s:apps/v1:Deployment", "k8s:apps/v1:StatefulSet", "k8s:apps/v1:DaemonSet", "k8s:apps/v1:ReplicaSet", "k8s:batch/v1:Job", "k8s:batch/v1:CronJob"],
	"remediation": "Replace hostPath volumes with persistent volumes, configMaps, secrets or emptyDir.",
}

findings contains finding if {
	some r in input.resources
	r.type in workloads
	some i, v in object.get(pod_spec(r), "volumes", [])
	v.hostPath
	finding := {
		"resource": r.id,
		"path": sprintf("%s.volumes[%d].hostPath", [spec_path(r), i]),
		"message": sprintf("%s mounts %s of the node (volume %s)", [r.id, object.get(v.hostPath, "path", "a path"), v.name]),
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
