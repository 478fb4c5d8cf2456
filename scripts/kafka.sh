#!/usr/bin/env bash
# Apache Kafka in KRaft mode (one combined broker+controller) on 127.0.0.1:9092:
# install | start | stop | status. The jars come from Maven Central through scripts/kafka/pom.xml.
source "$(dirname "$0")/lib.sh"

VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$REPO_ROOT/scripts/kafka/pom.xml")"
PORT=9092
CONTROLLER_PORT=9093
HOME_DIR="$STATE_DIR/kafka"
LIBS="$HOME_DIR/libs"
CONFIG_DIR="$HOME_DIR/config"
DATA_DIR="$HOME_DIR/data"
LOG="$LOG_DIR/kafka.log"
HEAP="${DATAFLOW_KAFKA_HEAP:--Xms256m -Xmx512m}"

installed() { [ -f "$LIBS/.version-$VERSION" ]; }

install() {
  if installed; then
    info "kafka: $VERSION jars already in place"
    return
  fi
  command -v mvn >/dev/null || fail "Maven is needed to fetch the Kafka jars"
  command -v java >/dev/null || fail "Java 17 or newer is needed to run Kafka"
  step "kafka: fetching Kafka $VERSION and its dependencies from Maven Central"
  rm -rf "$LIBS"
  mkdir -p "$LIBS"
  if ! mvn -B -f "$REPO_ROOT/scripts/kafka/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$LIBS" >"$LOG_DIR/kafka-install.log" 2>&1; then
    tail -n 30 "$LOG_DIR/kafka-install.log" >&2
    fail "Maven could not fetch the Kafka jars; the whole log is in $LOG_DIR/kafka-install.log"
  fi
  touch "$LIBS/.version-$VERSION"
  info "kafka: $(find "$LIBS" -name '*.jar' | wc -l) jars in $LIBS"
}

write_config() {
  mkdir -p "$CONFIG_DIR" "$DATA_DIR"
  cat >"$CONFIG_DIR/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA_DIR
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
auto.create.topics.enable=false
delete.topic.enable=true
group.initial.rebalance.delay.ms=0
log.retention.hours=168
PROPS
  cat >"$CONFIG_DIR/log4j.properties" <<PROPS
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=$LOG_DIR/kafka-server.log
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=WARN
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
PROPS
}

java_cmd() { java -Dlog4j.configuration="file:$CONFIG_DIR/log4j.properties" -cp "$LIBS/*" "$@"; }

format_storage() {
  [ -f "$DATA_DIR/meta.properties" ] && return
  step "kafka: formatting storage (first start)"
  local cluster_id
  cluster_id="$(java_cmd kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)"
  java_cmd kafka.tools.StorageTool format -t "$cluster_id" -c "$CONFIG_DIR/server.properties" >/dev/null
}

ping() { python_ready; "$VENV/bin/python" "$REPO_ROOT/scripts/ping.py" kafka "127.0.0.1:$PORT"; }

start() {
  if pid_alive kafka kafka.Kafka; then
    info "kafka: already running on 127.0.0.1:$PORT (pid $(pid_of kafka))"
    return
  fi
  if port_open "$PORT"; then
    ping || fail "port $PORT is taken by something that is not a Kafka broker"
    info "kafka: a broker already answers on 127.0.0.1:$PORT; using it"
    return
  fi
  install
  write_config
  format_storage
  step "kafka: starting on 127.0.0.1:$PORT"
  # shellcheck disable=SC2086 # HEAP holds several JVM flags
  start_daemon kafka "$LOG" java $HEAP -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$CONFIG_DIR/log4j.properties" -cp "$LIBS/*" \
    kafka.Kafka "$CONFIG_DIR/server.properties"
  wait_for kafka 60 "$LOG" ping || { tail -n 20 "$LOG_DIR/kafka-server.log" >&2 2>/dev/null; exit 1; }
  info "kafka: ready on 127.0.0.1:$PORT (pid $(pid_of kafka))"
}

status() {
  if pid_alive kafka kafka.Kafka; then
    info "kafka: running on 127.0.0.1:$PORT (pid $(pid_of kafka))"
  else
    info "kafka: stopped"
    return 3
  fi
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop_pid kafka kafka ;;
  status) status ;;
  *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
