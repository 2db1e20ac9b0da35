{{/*
Names, labels and the checks of contradictory values, shared by every template.
Names are truncated to 63 characters (the limit of a label value and of a DNS label).
*/}}

{{- define "orchestration-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "orchestration-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "orchestration-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "orchestration-operator.labels" -}}
helm.sh/chart: {{ include "orchestration-operator.chart" . }}
{{ include "orchestration-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: orchestration-operator
{{- end }}

{{/* Labels that select the operator's pods (Service, NetworkPolicy); never change them after release. */}}
{{- define "orchestration-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "orchestration-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "orchestration-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "orchestration-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "orchestration-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Name of the kopf peering object(s). */}}
{{- define "orchestration-operator.peeringName" -}}
{{- default (include "orchestration-operator.fullname" .) .Values.peering.name }}
{{- end }}

{{/*
Name of replica i's Deployment: the first keeps the plain full name (so turning standby replicas on
or off never renames the active one), the others are "<fullname>-standby-<i>".
Call with (dict "root" $ "replica" i).
*/}}
{{- define "orchestration-operator.deploymentName" -}}
{{- $fullname := include "orchestration-operator.fullname" .root }}
{{- if eq (int .replica) 0 }}
{{- $fullname }}
{{- else }}
{{- printf "%s-standby-%d" ($fullname | trunc 50 | trimSuffix "-") (int .replica) }}
{{- end }}
{{- end }}

{{/*
Refuse contradictory values with a message that says what to change. The schema catches typos and
wrong types; these are the combinations a schema cannot express well.
*/}}
{{- define "orchestration-operator.validate" -}}
{{- $v := .Values }}
{{- if and (gt (int $v.replicaCount) 1) (not $v.peering.enabled) }}
{{- fail (printf "replicaCount is %d but peering.enabled is false: several replicas without kopf peering would all handle every resource; set peering.enabled=true (standby replicas) or replicaCount=1" (int $v.replicaCount)) }}
{{- end }}
{{- if ne (len $v.watchNamespaces) (len (uniq $v.watchNamespaces)) }}
{{- fail (printf "watchNamespaces lists a namespace more than once: %s" (join ", " $v.watchNamespaces)) }}
{{- end }}
{{- if eq (int $v.health.port) (int $v.metrics.port) }}
{{- fail (printf "health.port and metrics.port are both %d: the health and metrics endpoints need distinct ports" (int $v.health.port)) }}
{{- end }}
{{- if and (not $v.serviceAccount.create) (not $v.serviceAccount.name) }}
{{- fail "serviceAccount.create is false and serviceAccount.name is empty: name the existing ServiceAccount the operator runs as" }}
{{- end }}
{{- range $v.extraArgs }}
{{- $flag := regexReplaceAll "=.*$" . "" }}
{{- if has $flag (list "--namespace" "-n" "--all-namespaces" "-A" "--standalone" "--peering" "--priority" "--health-port" "--metrics-port" "--log-format" "--log-level" "--success-events" "--no-success-events") }}
{{- fail (printf "extraArgs contains %s, which the chart sets from its values (watchNamespaces, peering, health.port, metrics.port, logging, serviceRuns); a second value would contradict what the chart renders" $flag) }}
{{- end }}
{{- end }}
{{- range $v.extraEnv }}
{{- if has .name (list "ORCHESTRATION_OPERATOR_NAMESPACES" "ORCHESTRATION_OPERATOR_ALL_NAMESPACES" "ORCHESTRATION_OPERATOR_STANDALONE" "ORCHESTRATION_OPERATOR_PEERING" "ORCHESTRATION_OPERATOR_PRIORITY" "ORCHESTRATION_OPERATOR_HEALTH_PORT" "ORCHESTRATION_OPERATOR_METRICS_PORT" "ORCHESTRATION_OPERATOR_LOG_FORMAT" "ORCHESTRATION_OPERATOR_LOG_LEVEL" "ORCHESTRATION_OPERATOR_SUCCESS_EVENTS") }}
{{- fail (printf "extraEnv sets %s, which the chart sets from its values (watchNamespaces, peering, health.port, metrics.port, logging, serviceRuns)" .name) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
RBAC rules for the namespaced resources the operator works on; the same list serves the ClusterRole
(all namespaces) and each Role (watchNamespaces).
*/}}
{{- define "orchestration-operator.namespacedRules" -}}
# The four kinds: watch them, and patch their metadata (finalizers, kopf's annotations).
- apiGroups: ["drupal-orchestration.io"]
  resources: ["orchestrationconnections", "orchestrationwebhooks", "serviceruns", "eventpolls"]
  verbs: ["get", "list", "watch", "patch"]
# ServiceRuns past their ttlSecondsAfterFinished: the operator deletes them (like the Job TTL controller).
- apiGroups: ["drupal-orchestration.io"]
  resources: ["serviceruns"]
  verbs: ["delete"]
# Their status subresources: the operator writes only status.
- apiGroups: ["drupal-orchestration.io"]
  resources: ["orchestrationconnections/status", "orchestrationwebhooks/status", "serviceruns/status", "eventpolls/status"]
  verbs: ["get", "patch", "update"]
# Events for state changes a person cares about (kopf posts core v1 Events).
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
# Credentials are read on demand (no watch, no list) so a rotation is seen at the next probe; the
# operator also writes the Secrets that hold sensitive ServiceRun results it owns.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "create", "update", "patch", "delete"]
# ServiceRun results too large for status, and EventPoll ring sinks.
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "create", "update", "patch", "delete"]
{{- end }}

{{/* kopf reads CRDs to find the resources it serves (and follows their changes). */}}
{{- define "orchestration-operator.crdRules" -}}
# kopf scans CRDs to find the resources it serves, and watches them to follow changes.
- apiGroups: ["apiextensions.k8s.io"]
  resources: ["customresourcedefinitions"]
  verbs: ["get", "list", "watch"]
{{- end }}

{{/*
kopf peering rules: list/watch every peering object of the kind (kopf filters by name itself) and
get/patch only ours. Call with (dict "root" $ "resource" "clusterkopfpeerings"|"kopfpeerings").
*/}}
{{- define "orchestration-operator.peeringRules" -}}
- apiGroups: ["kopf.dev"]
  resources: [{{ .resource | quote }}]
  verbs: ["list", "watch"]
- apiGroups: ["kopf.dev"]
  resources: [{{ .resource | quote }}]
  resourceNames: [{{ include "orchestration-operator.peeringName" .root | quote }}]
  verbs: ["get", "patch"]
{{- end }}
