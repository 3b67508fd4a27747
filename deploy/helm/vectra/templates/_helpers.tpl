{{/* Name of the chart, or nameOverride. */}}
{{- define "vectra.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name of the release's objects: <release>-<chart>, unless the release name already holds it. */}}
{{- define "vectra.fullname" -}}
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

{{/* Labels that select the pods; never change between upgrades. */}}
{{- define "vectra.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vectra.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of every object. */}}
{{- define "vectra.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "vectra.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* The image reference. */}}
{{- define "vectra.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Stops the render on settings that cannot work. */}}
{{- define "vectra.validate" -}}
{{- if not (has .Values.database.provider (list "Postgres" "Sqlite")) -}}
{{- fail (printf "database.provider must be Postgres or Sqlite, not %q" .Values.database.provider) -}}
{{- end -}}
{{- if not (has .Values.cache.provider (list "Redis" "Memory")) -}}
{{- fail (printf "cache.provider must be Redis or Memory, not %q" .Values.cache.provider) -}}
{{- end -}}
{{- if and (eq .Values.database.provider "Sqlite") (gt (int .Values.replicaCount) 1) -}}
{{- fail "database.provider Sqlite keeps the database in one pod's file: set replicaCount to 1, or use Postgres" -}}
{{- end -}}
{{- if and (eq .Values.database.provider "Postgres") (not .Values.database.postgres.existingSecret) -}}
{{- fail "database.postgres.existingSecret: name the Secret holding the PostgreSQL connection string" -}}
{{- end -}}
{{- if and (eq .Values.cache.provider "Redis") (not .Values.cache.redis.existingSecret) -}}
{{- fail "cache.redis.existingSecret: name the Secret holding the Redis connection string" -}}
{{- end -}}
{{- if not .Values.security.masterPassword.existingSecret -}}
{{- fail "security.masterPassword.existingSecret: name the Secret holding the master password (every replica must share it)" -}}
{{- end -}}
{{- if and .Values.https.enabled (not .Values.https.existingSecret) -}}
{{- fail "https.existingSecret: name the kubernetes.io/tls Secret of the API's certificate" -}}
{{- end -}}
{{- end -}}
