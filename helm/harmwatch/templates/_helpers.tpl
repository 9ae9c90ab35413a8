{{/* Chart name, overridable. */}}
{{- define "harmwatch.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Object name prefix: the release name when it already contains the chart name. */}}
{{- define "harmwatch.fullname" -}}
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

{{- define "harmwatch.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "harmwatch.labels" -}}
helm.sh/chart: {{ include "harmwatch.chart" . }}
app.kubernetes.io/name: {{ include "harmwatch.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: harmwatch
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of the MLflow server pods. */}}
{{- define "harmwatch.mlflow.selectorLabels" -}}
app.kubernetes.io/name: {{ include "harmwatch.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: mlflow
{{- end }}

{{/* Object names. */}}
{{- define "harmwatch.mlflow.fullname" -}}
{{- printf "%s-mlflow" (include "harmwatch.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "harmwatch.configMapName" -}}
{{- printf "%s-config" (include "harmwatch.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "harmwatch.jobServiceAccountName" -}}
{{- default (printf "%s-job" (include "harmwatch.fullname" .)) .Values.jobs.serviceAccount.name }}
{{- end }}

{{- define "harmwatch.airflowWorkerServiceAccountName" -}}
{{- default (printf "%s-airflow-worker" (include "harmwatch.fullname" .)) .Values.airflowWorker.serviceAccount.name }}
{{- end }}

{{- define "harmwatch.mlflow.serviceAccountName" -}}
{{- default (include "harmwatch.mlflow.fullname" .) .Values.mlflow.serviceAccount.name }}
{{- end }}

{{/* In-cluster URL of the MLflow Service. */}}
{{- define "harmwatch.mlflow.url" -}}
{{- printf "http://%s.%s.svc:%v" (include "harmwatch.mlflow.fullname" .) .Release.Namespace .Values.mlflow.port }}
{{- end }}

{{/*
Image reference from {repository, tag, digest}: repository@digest when a digest is set,
otherwise repository:tag. Mutable `latest` is refused.
Usage: include "harmwatch.imageRef" (dict "image" .Values.image)
*/}}
{{- define "harmwatch.imageRef" -}}
{{- $img := .image -}}
{{- if not $img.repository }}{{ fail "image repository must be set" }}{{ end -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $img.repository $img.digest -}}
{{- else -}}
{{- if or (not $img.tag) (eq (toString $img.tag) "latest") }}{{ fail (printf "image %s needs a fixed tag or digest, not %q" $img.repository (toString $img.tag)) }}{{ end -}}
{{- printf "%s:%s" $img.repository (toString $img.tag) -}}
{{- end -}}
{{- end }}

{{- define "harmwatch.jobImage" -}}
{{- include "harmwatch.imageRef" (dict "image" .Values.image) }}
{{- end }}

{{/* The MLflow server image: its own repository when set, else the job image. */}}
{{- define "harmwatch.mlflow.image" -}}
{{- $m := .Values.mlflow.image -}}
{{- if $m.repository -}}
{{- include "harmwatch.imageRef" (dict "image" $m) }}
{{- else -}}
{{- include "harmwatch.jobImage" . }}
{{- end -}}
{{- end }}

{{- define "harmwatch.mlflow.pullPolicy" -}}
{{- default .Values.image.pullPolicy .Values.mlflow.image.pullPolicy }}
{{- end }}


{{/* NetworkPolicy egress rules shared by the MLflow and job policies. */}}
{{- define "harmwatch.np.storeEgress" -}}
{{- $np := .Values.networkPolicy -}}
- ports:
    {{- range $np.objectStorePorts }}
    - protocol: TCP
      port: {{ . }}
    {{- end }}
  {{- with $np.objectStoreCidrs }}
  to:
    {{- range . }}
    - ipBlock:
        cidr: {{ . }}
    {{- end }}
  {{- end }}
{{- end }}
{{- define "harmwatch.np.dnsEgress" -}}
- ports:
    - protocol: UDP
      port: 53
    - protocol: TCP
      port: 53
{{- end }}

{{/*
Guard against secret material in values: names that look like credentials must come from a
Secret (jobs.existingSecret / valueFrom.secretKeyRef), never from a plain value.
*/}}
{{- define "harmwatch.secretNamePattern" -}}
(?i)(PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL|PRIVATE|_KEY$|_KEY_ID$|^KEY$|DATABASE_URI|STORE_URI|_DSN$)
{{- end }}

{{- define "harmwatch.assertNoInlineSecrets" -}}
{{- $pattern := include "harmwatch.secretNamePattern" . -}}
{{- range $key, $_ := .Values.jobs.extraConfig }}
{{- if regexMatch $pattern $key }}
{{- fail (printf "jobs.extraConfig.%s looks like a credential: put it in the Secret named by jobs.existingSecret, not in the ConfigMap" $key) }}
{{- end }}
{{- end }}
{{- range .Values.mlflow.extraEnv }}
{{- if and (hasKey . "value") (regexMatch $pattern .name) }}
{{- fail (printf "mlflow.extraEnv %s looks like a credential: use valueFrom.secretKeyRef instead of value" .name) }}
{{- end }}
{{- end }}
{{- range .Values.labelStudio.extraEnv }}
{{- if and (hasKey . "value") (regexMatch $pattern .name) }}
{{- fail (printf "labelStudio.extraEnv %s looks like a credential: use valueFrom.secretKeyRef instead of value" .name) }}
{{- end }}
{{- end }}
{{- end }}

{{/* Label Studio (the moderators' review tool): names, selector labels, in-cluster URL, image. */}}
{{- define "harmwatch.labelStudio.fullname" -}}
{{- printf "%s-labelstudio" (include "harmwatch.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "harmwatch.labelStudio.selectorLabels" -}}
app.kubernetes.io/name: {{ include "harmwatch.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: labelstudio
{{- end }}

{{- define "harmwatch.labelStudio.serviceAccountName" -}}
{{- default (include "harmwatch.labelStudio.fullname" .) .Values.labelStudio.serviceAccount.name }}
{{- end }}

{{- define "harmwatch.labelStudio.url" -}}
{{- printf "http://%s.%s.svc:%v" (include "harmwatch.labelStudio.fullname" .) .Release.Namespace .Values.labelStudio.port }}
{{- end }}

{{/* ServiceAccount names of the Spark driver and its executors (SparkApplications of the data steps). */}}
{{- define "harmwatch.spark.driverServiceAccountName" -}}
{{- default (printf "%s-spark" (include "harmwatch.fullname" .)) .Values.spark.serviceAccount.name }}
{{- end }}
{{- define "harmwatch.spark.executorServiceAccountName" -}}
{{- printf "%s-executor" (include "harmwatch.spark.driverServiceAccountName" .) }}
{{- end }}
