{{/*
Chart name, truncated to the 63 characters of a DNS label.
*/}}
{{- define "dataflow.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified release name. Component names append up to 16 characters
("-stream-pipeline"), so this stops at 47.
*/}}
{{- define "dataflow.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 47 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 47 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 47 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "dataflow.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The components. key: the values section; name: resource suffix and
component label; module: what `python -m` runs; port: the HTTP port, 0 for
workers without HTTP.
*/}}
{{- define "dataflow.components" -}}
flowAutomation: {name: flow-automation, module: flow_automation, port: 8081}
coderunner: {name: coderunner, module: coderunner, port: 8082}
ecron: {name: ecron, module: ecron, port: 8083}
streamPipeline: {name: stream-pipeline, module: stream_pipeline, port: 8084}
flowWeb: {name: flow-web, module: flow_web, port: 8080}
executor: {name: executor, module: flow_automation.executor, port: 0}
streamWorker: {name: stream-worker, module: stream_pipeline.worker, port: 0}
{{- end }}

{{/*
Resource name of a component: (dict "root" $ "name" "flow-automation").
*/}}
{{- define "dataflow.componentName" -}}
{{- printf "%s-%s" (include "dataflow.fullname" .root) .name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels.
*/}}
{{- define "dataflow.labels" -}}
helm.sh/chart: {{ include "dataflow.chart" . }}
{{ include "dataflow.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: dataflow
{{- end }}

{{- define "dataflow.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dataflow.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels of a component: (dict "root" $ "name" "flow-automation").
*/}}
{{- define "dataflow.componentLabels" -}}
{{ include "dataflow.labels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{- define "dataflow.componentSelectorLabels" -}}
{{ include "dataflow.selectorLabels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{- define "dataflow.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "dataflow.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "dataflow.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
In-cluster base URL of an HTTP component: (dict "root" $ "key" "flowAutomation").
*/}}
{{- define "dataflow.componentUrl" -}}
{{- $component := get (include "dataflow.components" .root | fromYaml) .key }}
{{- printf "http://%s:%v" (include "dataflow.componentName" (dict "root" .root "name" $component.name)) $component.port }}
{{- end }}

{{/*
The OAuth2 issuer: explicit, else the ingress host when the issuer is routed
there, else flow-automation inside the cluster.
*/}}
{{- define "dataflow.issuer" -}}
{{- if .Values.oauth.issuer }}
{{- .Values.oauth.issuer | trimSuffix "/" }}
{{- else if and .Values.ingress.enabled .Values.ingress.issuer.enabled .Values.ingress.host }}
{{- printf "%s://%s" (ternary "https" "http" .Values.ingress.tls.enabled) .Values.ingress.host }}
{{- else }}
{{- include "dataflow.componentUrl" (dict "root" . "key" "flowAutomation") }}
{{- end }}
{{- end }}

{{- define "dataflow.jwksUrl" -}}
{{- if .Values.oauth.jwksUrl }}
{{- .Values.oauth.jwksUrl }}
{{- else }}
{{- printf "%s/oauth2/jwks" (include "dataflow.componentUrl" (dict "root" . "key" "flowAutomation")) }}
{{- end }}
{{- end }}

{{/*
Secrets: the chart's own Secret and where each secret value comes from.
*/}}
{{- define "dataflow.secretName" -}}
{{- include "dataflow.fullname" . }}
{{- end }}

{{- define "dataflow.secretKeySecretName" -}}
{{- default (include "dataflow.secretName" .) .Values.secretKey.existingSecret }}
{{- end }}

{{- define "dataflow.secretKeySecretKey" -}}
{{- if .Values.secretKey.existingSecret }}{{ .Values.secretKey.key }}{{ else }}secret-key{{ end }}
{{- end }}

{{- define "dataflow.mongoUriSecretName" -}}
{{- default (include "dataflow.secretName" .) .Values.mongoUriSecret.name }}
{{- end }}

{{- define "dataflow.mongoUriSecretKey" -}}
{{- if .Values.mongoUriSecret.name }}{{ .Values.mongoUriSecret.key }}{{ else }}mongo-uri{{ end }}
{{- end }}

{{/*
Checks run once per render.
*/}}
{{- define "dataflow.validate" -}}
{{- if and (not .Values.mongoUri) (not .Values.mongoUriSecret.name) }}
{{- fail "set mongoUri, or mongoUriSecret.name for a Secret holding it" }}
{{- end }}
{{- if not .Values.kafkaBootstrap }}
{{- fail "set kafkaBootstrap (host:port of the Kafka brokers)" }}
{{- end }}
{{- if and .Values.ingress.enabled (not .Values.ingress.host) }}
{{- fail "ingress.enabled needs ingress.host" }}
{{- end }}
{{- end }}

{{/*
Pod template shared by every component:
(dict "root" $ "key" "flowAutomation").
*/}}
{{- define "dataflow.podTemplate" -}}
{{- $root := .root }}
{{- $values := $root.Values }}
{{- $component := get (include "dataflow.components" $root | fromYaml) .key }}
{{- $settings := get $values .key }}
{{- $http := gt (int $component.port) 0 }}
{{- $nameArgs := dict "root" $root "name" $component.name }}
metadata:
  labels:
    {{- include "dataflow.componentLabels" $nameArgs | nindent 4 }}
    {{- with $values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
    {{- if and $http $values.metrics.podAnnotations }}
    prometheus.io/scrape: "true"
    prometheus.io/port: {{ $component.port | quote }}
    prometheus.io/path: /metrics
    {{- end }}
    {{- with (merge (dict) ($settings.podAnnotations | default dict) ($values.podAnnotations | default dict)) }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "dataflow.serviceAccountName" $root }}
  automountServiceAccountToken: false
  # Service links would inject variables such as DATAFLOW_CODERUNNER_PORT=tcp://...
  # for a release named "dataflow", clashing with the application's settings.
  enableServiceLinks: false
  {{- with $values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml $values.podSecurityContext | nindent 4 }}
  terminationGracePeriodSeconds: {{ $settings.terminationGracePeriodSeconds | default 30 }}
  containers:
    - name: {{ $component.name }}
      image: {{ include "dataflow.image" $root | quote }}
      imagePullPolicy: {{ $values.image.pullPolicy }}
      # args, not command: the image's entrypoint (tini) stays PID 1.
      args:
        - python
        - -m
        - {{ $component.module }}
        {{- if $http }}
        - --port
        - {{ $component.port | quote }}
        {{- end }}
      {{- if $http }}
      ports:
        - name: http
          containerPort: {{ $component.port }}
          protocol: TCP
      {{- end }}
      envFrom:
        - configMapRef:
            name: {{ include "dataflow.fullname" $root }}
        {{- with $values.extraEnvFrom }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      env:
        - name: DATAFLOW_MONGO_URI
          valueFrom:
            secretKeyRef:
              name: {{ include "dataflow.mongoUriSecretName" $root }}
              key: {{ include "dataflow.mongoUriSecretKey" $root }}
        - name: DATAFLOW_SECRET_KEY
          valueFrom:
            secretKeyRef:
              name: {{ include "dataflow.secretKeySecretName" $root }}
              key: {{ include "dataflow.secretKeySecretKey" $root }}
        {{- with $values.serviceClient.existingSecret }}
        - name: DATAFLOW_SERVICE_CLIENT_ID
          valueFrom:
            secretKeyRef:
              name: {{ . }}
              key: {{ $values.serviceClient.clientIdKey }}
        - name: DATAFLOW_SERVICE_CLIENT_SECRET
          valueFrom:
            secretKeyRef:
              name: {{ . }}
              key: {{ $values.serviceClient.clientSecretKey }}
        {{- end }}
        {{- range $name, $value := $settings.env }}
        - name: {{ $name }}
          value: {{ $value | toString | quote }}
        {{- end }}
      {{- if $http }}
      startupProbe:
        httpGet:
          path: /healthz
          port: http
        {{- toYaml $values.probes.startup | nindent 8 }}
      livenessProbe:
        httpGet:
          path: /healthz
          port: http
        {{- toYaml $values.probes.liveness | nindent 8 }}
      readinessProbe:
        httpGet:
          path: /readyz
          port: http
        {{- toYaml $values.probes.readiness | nindent 8 }}
      {{- if $values.preStopSleepSeconds }}
      lifecycle:
        preStop:
          exec:
            command: ["sleep", {{ $values.preStopSleepSeconds | quote }}]
      {{- end }}
      {{- end }}
      {{- with $settings.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml (mergeOverwrite (deepCopy $values.securityContext) ($settings.securityContext | default dict)) | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        - name: state
          mountPath: {{ $values.stateDir }}
  volumes:
    - name: tmp
      emptyDir:
        sizeLimit: {{ $values.tmpSizeLimit }}
    - name: state
      emptyDir:
        sizeLimit: {{ $values.stateDirSizeLimit }}
  {{- with ($settings.nodeSelector | default $values.nodeSelector) }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with ($settings.affinity | default $values.affinity) }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with ($settings.tolerations | default $values.tolerations) }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if $values.spreadAcrossNodes }}
  topologySpreadConstraints:
    - maxSkew: 1
      topologyKey: kubernetes.io/hostname
      whenUnsatisfiable: ScheduleAnyway
      labelSelector:
        matchLabels:
          {{- include "dataflow.componentSelectorLabels" $nameArgs | nindent 10 }}
  {{- end }}
{{- end }}
