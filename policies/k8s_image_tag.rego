package opsdeck.rules.k8s_image_tag

import rego.v1

# Live workloads (and manifests): every kind that holds a pod template. Inputs of kind
# "kubernetes": see kube/compliance.rs.
metadata := {
	"id": "K8S-007",
	"title": "Images are pinned (a tag other than latest, or a digest)",
	"severity": "medium",
	"controls": ["CM-2", "CM-6", "SI-7"],
	"resource_types": ["k8s:v1:Pod", "k8s:apps/v1:Deployment", "k8s:apps/v1:StatefulSet", "k8s:apps/v1:DaemonSet", "k8s:apps/v1:ReplicaSet", "k8s:batch/v1:Job", "k8s:batch/v1:CronJob"],
	"remediation": "Name each image by digest (image@sha256:...) or by a version tag; never :latest or no tag.",
}

findings contains finding if {
	some r in input.resources
	some [path, c] in containers(r)
	not pinned(c.image)
	finding := {
		"resource": r.id,
		"path": sprintf("%s.image", [path]),
		"message": sprintf("container %s of %s runs %s: no tag, or latest, so what runs can change", [c.name, r.id, c.image]),
	}
}

pinned(image) if contains(image, "@")

pinned(image) if {
	not contains(image, "@")
	parts := split(image, "/")
	last := parts[count(parts) - 1]
	contains(last, ":")
	not endswith(last, ":latest")
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
