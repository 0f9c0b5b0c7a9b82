#!/usr/bin/env bash
# Runs a real single-node Apache Kafka (KRaft, broker+controller) on this machine
# without Docker. Kafka's jars come from Maven Central through `mvn` and are cached
# outside the repo; the broker's data and log live in a data folder.
#
#   scripts/kafka-local.sh start|stop|status|reset
#   scripts/kafka-local.sh run <main-class> [args...]   # a Kafka tool on the cached classpath
#
# Env: KAFKA_LOCAL_HOME  jar cache          (default ~/.cache/order-saga-kafka)
#      KAFKA_LOCAL_DATA  data dir + logs    (default /tmp/order-saga-kafka)
#      KAFKA_VERSION     Kafka 3.9.x        (default 3.9.2)
#      KAFKA_PORT        PLAINTEXT port     (default 9092; controller = KAFKA_PORT+1)
#      KAFKA_START_TIMEOUT seconds to wait for the broker (default 90)
#      KAFKA_HEAP_OPTS   JVM heap           (default -Xms256m -Xmx512m)
#
# See docs "Real services on these machines" in the design notes: Kafka 3.9 line (4.0
# dropped old protocol versions kafkajs uses), Java 17, one-node replication settings.
set -euo pipefail

KAFKA_VERSION="${KAFKA_VERSION:-3.9.2}"
KAFKA_LOCAL_HOME="${KAFKA_LOCAL_HOME:-$HOME/.cache/order-saga-kafka}"
KAFKA_LOCAL_DATA="${KAFKA_LOCAL_DATA:-/tmp/order-saga-kafka}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
HOST=127.0.0.1
CONTROLLER_PORT=$((KAFKA_PORT + 1))

CACHE_DIR="$KAFKA_LOCAL_HOME/kafka-$KAFKA_VERSION"
LIBS="$CACHE_DIR/libs"
LOG_DIR="$KAFKA_LOCAL_DATA/logs"
KRAFT_DIR="$KAFKA_LOCAL_DATA/kraft-logs"
PID_FILE="$KAFKA_LOCAL_DATA/kafka.pid"
CONFIG="$KAFKA_LOCAL_DATA/server.properties"
LOG4J="$KAFKA_LOCAL_DATA/log4j.properties"
TOOLS_LOG4J="$KAFKA_LOCAL_DATA/tools-log4j.properties"
CLIENT_CONFIG="$KAFKA_LOCAL_DATA/client.properties"
MARKER="$KAFKA_LOCAL_DATA/.order-saga-kafka"

say() { printf 'kafka-local: %s\n' "$*"; }
die() { printf 'kafka-local: %s\n' "$*" >&2; exit 1; }

# --- Java 17 -----------------------------------------------------------------------
java_major() { # prints the major version of the java binary $1, or nothing
  "$1" -version 2>&1 | sed -n 's/.*version "\([0-9]*\)[."].*/\1/p' | head -n1
}

JAVA=""
pick_java() {
  [[ -n "$JAVA" ]] && return 0
  local c candidates=()
  [[ -n "${JAVA_HOME:-}" ]] && candidates+=("$JAVA_HOME/bin/java")
  command -v java >/dev/null 2>&1 && candidates+=("$(command -v java)")
  for c in /usr/lib/jvm/java-17-openjdk*/bin/java /usr/lib/jvm/*17*/bin/java; do
    candidates+=("$c")
  done
  for c in "${candidates[@]}"; do
    if [[ -x "$c" && "$(java_major "$c")" == "17" ]]; then JAVA="$c"; return 0; fi
  done
  die "no Java 17 found (need 'java -version' = 17; the Temurin 25 JDK is not used)"
}

# --- jars from Maven Central -----------------------------------------------------------
libs_ready() { [[ -f "$LIBS/.complete" ]]; }

resolve_libs() {
  libs_ready && return 0
  command -v mvn >/dev/null 2>&1 || die "mvn not found (needed once to fetch Kafka's jars)"
  mkdir -p "$CACHE_DIR"
  exec 8>"$CACHE_DIR/.lock"
  command -v flock >/dev/null 2>&1 && flock 8
  libs_ready && return 0 # another process finished it meanwhile
  say "resolving org.apache.kafka:kafka_2.13:$KAFKA_VERSION with mvn into $LIBS"
  cat >"$CACHE_DIR/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
         xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 http://maven.apache.org/xsd/maven-4.0.0.xsd">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.order-saga</groupId>
  <artifactId>kafka-local-classpath</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <!-- TopicCommand, ConsoleConsumer and friends; Connect is not needed -->
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka-tools</artifactId>
      <version>$KAFKA_VERSION</version>
      <exclusions>
        <exclusion><groupId>org.apache.kafka</groupId><artifactId>connect-runtime</artifactId></exclusion>
      </exclusions>
    </dependency>
    <!-- Kafka 3.9 logs through slf4j 1.7 to log4j 1.x (reload4j) -->
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-reload4j</artifactId>
      <version>1.7.36</version>
    </dependency>
    <dependency>
      <groupId>ch.qos.reload4j</groupId>
      <artifactId>reload4j</artifactId>
      <version>1.2.25</version>
    </dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>3.8.1</version>
      </plugin>
    </plugins>
  </build>
</project>
EOF
  rm -rf "$LIBS.tmp"
  if ! mvn -q -B -f "$CACHE_DIR/pom.xml" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$LIBS.tmp" >"$CACHE_DIR/mvn.log" 2>&1; then
    tail -n 30 "$CACHE_DIR/mvn.log" >&2
    die "mvn could not resolve Kafka $KAFKA_VERSION (full log: $CACHE_DIR/mvn.log)"
  fi
  ls "$LIBS.tmp"/kafka_2.13-"$KAFKA_VERSION".jar >/dev/null 2>&1 \
    || die "kafka_2.13-$KAFKA_VERSION.jar missing after mvn (see $CACHE_DIR/mvn.log)"
  touch "$LIBS.tmp/.complete"
  rm -rf "$LIBS"
  mv "$LIBS.tmp" "$LIBS"
  say "cached $(find "$LIBS" -name '*.jar' | wc -l) jars"
}

# --- config files ------------------------------------------------------------------
write_configs() {
  mkdir -p "$KAFKA_LOCAL_DATA" "$LOG_DIR" "$KRAFT_DIR"
  touch "$MARKER"
  cat >"$CONFIG" <<EOF
# generated by scripts/kafka-local.sh; rewritten on every start
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$KRAFT_DIR
num.partitions=6
auto.create.topics.enable=false
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
default.replication.factor=1
min.insync.replicas=1
num.recovery.threads.per.data.dir=1
log.retention.hours=24
EOF
  cat >"$LOG4J" <<EOF
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=$LOG_DIR/server.log
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
EOF
  write_tools_configs
}

write_tools_configs() {
  mkdir -p "$KAFKA_LOCAL_DATA"
  touch "$MARKER"
  cat >"$TOOLS_LOG4J" <<EOF
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
  cat >"$CLIENT_CONFIG" <<EOF
request.timeout.ms=5000
default.api.timeout.ms=5000
EOF
}

run_class() { # a Kafka main class with the cached classpath, logging WARN to stderr
  "$JAVA" -Xmx256m -Dlog4j.configuration="file:$TOOLS_LOG4J" -cp "$LIBS/*" "$@"
}

format_if_needed() {
  [[ -f "$KRAFT_DIR/meta.properties" ]] && return 0
  local id
  id="$(run_class kafka.tools.StorageTool random-uuid | tail -n1)"
  [[ -n "$id" ]] || die "StorageTool random-uuid printed nothing"
  say "formatting $KRAFT_DIR (cluster id $id)"
  run_class kafka.tools.StorageTool format -t "$id" -c "$CONFIG" >"$LOG_DIR/format.log" 2>&1 \
    || { cat "$LOG_DIR/format.log" >&2; die "StorageTool format failed"; }
}

# --- process state -----------------------------------------------------------------
read_pid() { [[ -f "$PID_FILE" ]] && tr -dc '0-9' <"$PID_FILE" || true; }

our_pid_alive() { # pid file names a live kafka.Kafka started with our config
  local pid
  pid="$(read_pid)"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "kafka.Kafka $CONFIG"
}

port_open() { # TCP connect to $HOST:$1
  (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

broker_answers() { # a real Kafka API call (Metadata via the admin client)
  run_class org.apache.kafka.tools.TopicCommand --bootstrap-server "$HOST:$KAFKA_PORT" \
    --command-config "$CLIENT_CONFIG" --list >/dev/null 2>&1
}

log_tail() {
  say "last lines of $LOG_DIR/server.log:" >&2
  tail -n 40 "$LOG_DIR/server.log" >&2 2>/dev/null || true
  if [[ -s "$LOG_DIR/kafka.out" ]]; then
    say "last lines of $LOG_DIR/kafka.out:" >&2
    tail -n 20 "$LOG_DIR/kafka.out" >&2
  fi
}

# --- commands ----------------------------------------------------------------------
cmd_start() {
  pick_java
  if our_pid_alive && port_open "$KAFKA_PORT"; then
    say "already running (pid $(read_pid)) on $HOST:$KAFKA_PORT"
    return 0
  fi
  if our_pid_alive; then
    # started but not answering yet (or hung): let the wait below decide
    say "process $(read_pid) exists but port $KAFKA_PORT is not answering yet; waiting"
  else
    rm -f "$PID_FILE"
    local p
    for p in "$KAFKA_PORT" "$CONTROLLER_PORT"; do
      port_open "$p" && die "port $HOST:$p is already in use by another process (not started by this script)"
    done
    resolve_libs
    write_configs
    format_if_needed
    say "starting Kafka $KAFKA_VERSION on $HOST:$KAFKA_PORT (controller $CONTROLLER_PORT, data $KAFKA_LOCAL_DATA)"
    # the inner shell writes its own pid, then becomes the JVM: the pid file names java
    # shellcheck disable=SC2086
    setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$PID_FILE" \
      "$JAVA" $KAFKA_HEAP_OPTS -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
      -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
      -Djava.awt.headless=true -Dkafka.logs.dir="$LOG_DIR" \
      -Dlog4j.configuration="file:$LOG4J" -cp "$LIBS/*" \
      kafka.Kafka "$CONFIG" </dev/null >"$LOG_DIR/kafka.out" 2>&1 &
    local i
    for i in $(seq 1 50); do [[ -s "$PID_FILE" ]] && break; sleep 0.1; done
  fi

  local deadline=$((SECONDS + KAFKA_START_TIMEOUT))
  while ((SECONDS < deadline)); do
    if ! our_pid_alive; then
      log_tail
      rm -f "$PID_FILE"
      die "Kafka exited during startup"
    fi
    if port_open "$KAFKA_PORT" && broker_answers; then
      say "ready on $HOST:$KAFKA_PORT (pid $(read_pid), ${SECONDS}s)"
      return 0
    fi
    sleep 1
  done
  log_tail
  die "Kafka did not answer on $HOST:$KAFKA_PORT within ${KAFKA_START_TIMEOUT}s (still running as pid $(read_pid); 'stop' ends it)"
}

cmd_stop() {
  if ! our_pid_alive; then
    rm -f "$PID_FILE"
    say "not running"
    return 0
  fi
  local pid i
  pid="$(read_pid)"
  say "stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "still alive after 30s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$PID_FILE"
  say "stopped"
}

cmd_status() {
  if our_pid_alive && port_open "$KAFKA_PORT"; then
    say "running (pid $(read_pid)) on $HOST:$KAFKA_PORT, data $KAFKA_LOCAL_DATA"
    return 0
  fi
  if our_pid_alive; then
    say "starting or unresponsive (pid $(read_pid)); port $KAFKA_PORT not answering"
  else
    say "stopped"
  fi
  return 1
}

cmd_reset() {
  cmd_stop
  if [[ -d "$KAFKA_LOCAL_DATA" ]]; then
    [[ -f "$MARKER" ]] || die "$KAFKA_LOCAL_DATA was not made by this script; not deleting it"
    rm -rf "$KAFKA_LOCAL_DATA"
    say "deleted $KAFKA_LOCAL_DATA"
  fi
}

cmd_run() {
  (($# >= 1)) || die "usage: $0 run <main-class> [args...]"
  pick_java
  resolve_libs
  [[ -f "$TOOLS_LOG4J" ]] || write_tools_configs
  run_class "$@"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  reset) cmd_reset ;;
  run) shift; cmd_run "$@" ;;
  *) echo "usage: $0 start|stop|status|reset|run <main-class> [args...]" >&2; exit 2 ;;
esac
