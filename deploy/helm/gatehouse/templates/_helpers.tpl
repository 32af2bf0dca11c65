{{- define "gatehouse.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "gatehouse.fullname" -}}
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

{{- define "gatehouse.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gatehouse.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: gateway
{{- end -}}

{{- define "gatehouse.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "gatehouse.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: gatehouse
{{- end -}}

{{- define "gatehouse.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The Secret holding the PostgreSQL password. */}}
{{- define "gatehouse.postgresSecret" -}}
{{- default (printf "%s-postgres" (include "gatehouse.fullname" .)) .Values.postgres.existingSecret -}}
{{- end -}}

{{/* gatehouse.yaml: what the chart sets, with .Values.config merged over it. */}}
{{- define "gatehouse.config" -}}
{{- $fullname := include "gatehouse.fullname" . -}}
{{- $sans := list $fullname (printf "%s.%s" $fullname .Release.Namespace) (printf "%s.%s.svc" $fullname .Release.Namespace) (printf "%s.%s.svc.cluster.local" $fullname .Release.Namespace) -}}
{{- $config := dict
  "dataDir" "/var/lib/gatehouse"
  "listen" (dict "host" "0.0.0.0" "port" 6443)
  "clusters" .Values.clusters
  "identity" (dict "impersonation" (dict "enabled" .Values.impersonation.enabled))
  "policy" (dict "builtinGuardrails" .Values.policy.builtinGuardrails "defaultAction" .Values.policy.defaultAction "paths" (list "/etc/gatehouse/policies"))
  "shutdown" (dict "delaySeconds" .Values.shutdown.delaySeconds "drainSeconds" .Values.shutdown.drainSeconds)
-}}
{{- if .Values.tls.existingSecret -}}
{{- $_ := set $config "tls" (dict "certFile" "/etc/gatehouse/tls/tls.crt" "keyFile" "/etc/gatehouse/tls/tls.key") -}}
{{- else -}}
{{- $_ := set $config "tls" (dict "extraSans" (concat $sans .Values.tls.extraSans)) -}}
{{- end -}}
{{- if .Values.postgres.enabled -}}
{{- $_ := set $config "store" (dict "postgres" (dict "url" .Values.postgres.url)) -}}
{{- end -}}
{{- if .Values.metrics.port -}}
{{- $_ := set $config "metrics" (dict "listen" (printf "0.0.0.0:%d" (int .Values.metrics.port))) -}}
{{- end -}}
{{- if .Values.tracing.enabled -}}
{{- $t := .Values.tracing -}}
{{- /* float64: `--set tracing.sampleRatio=0.1` arrives as a string. */ -}}
{{- $_ := set $config "tracing" (dict "enabled" true "otlpEndpoint" $t.otlpEndpoint "protocol" $t.protocol "serviceName" $t.serviceName "sampleRatio" (float64 $t.sampleRatio) "headers" $t.headers) -}}
{{- end -}}
{{- toYaml (mergeOverwrite $config (deepCopy .Values.config)) -}}
{{- end -}}

{{/* The TCP port of the OTLP collector, from tracing.otlpEndpoint (the scheme's default when it names none). */}}
{{- define "gatehouse.tracingPort" -}}
{{- $url := urlParse .Values.tracing.otlpEndpoint -}}
{{- $hostPort := splitList ":" $url.host -}}
{{- if gt (len $hostPort) 1 -}}{{ last $hostPort }}{{- else if eq $url.scheme "https" -}}443{{- else -}}80{{- end -}}
{{- end -}}
