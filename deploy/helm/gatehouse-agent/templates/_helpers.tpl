{{- define "gatehouse-agent.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "gatehouse-agent.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "gatehouse-agent.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gatehouse-agent.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: agent
{{- end -}}

{{- define "gatehouse-agent.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "gatehouse-agent.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: gatehouse
{{- end -}}

{{- define "gatehouse-agent.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "gatehouse-agent.tokenSecret" -}}
{{- default (printf "%s-token" (include "gatehouse-agent.fullname" .)) .Values.token.existingSecret -}}
{{- end -}}

{{/* Cluster-scoped objects are named after the namespace too, so two releases never collide. */}}
{{- define "gatehouse-agent.clusterName" -}}
{{- printf "%s-%s" .Release.Namespace (include "gatehouse-agent.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Where the gateway CA comes from: "secret", "configMap" or "" (none: the system trust store). */}}
{{- define "gatehouse-agent.caSource" -}}
{{- if .Values.gatewayCA.existingSecret -}}secret
{{- else if .Values.gatewayCA.existingConfigMap -}}configMap
{{- else if .Values.gatewayCA.pem -}}secret
{{- end -}}
{{- end -}}
