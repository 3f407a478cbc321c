#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# create-topics.sh: creates levcal's topics (SPEC §1) on a Kafka cluster,
# with or without containers. Idempotent: a topic that exists is left as it
# is, then every topic is checked, and a partition count or cleanup policy
# that differs from what levcal needs is an error that names the topic
# (levcal refuses to join trades and prices of different partition counts).
#
# Usage:
#   deploy/create-topics.sh [-b BOOTSTRAP] [-p PARTITIONS] [-r REPLICATION]
#                           [-t TABLE_PARTITIONS] [-c CLIENT_PROPERTIES] [-n]
#     -b  bootstrap servers (default $LVC_BOOTSTRAP, then localhost:9092)
#     -p  partitions of the co-partitioned topics: trades, prices, state, and
#         the outputs (default 6); the stage scales out to this many instances
#     -r  replication factor (default 3; 1 for a single broker)
#     -t  partitions of the compacted global tables positions and balances
#         (default: as -p)
#     -c  a client properties file (security.protocol, sasl.*, ssl.*) passed
#         to the Kafka tool as --command-config
#     -n  dry run: print what would be created and exit
#
# Topics (names from $LVC_TOPIC_TRADES, ... when set; SPEC §1 defaults):
#   market.trades, market.prices            -p partitions, delete (time retention)
#   risk.positions, risk.balances           -t partitions, cleanup.policy=compact
#   risk.leverage-limits,
#   risk.liquidation-warnings,
#   levcal.deadletter                       -p partitions, delete
#   levcal.state                            -p partitions, cleanup.policy=compact
#
# Which Kafka tool runs it, first found:
#   1. kafka-topics.sh or kafka-topics on PATH, or in $KAFKA_HOME/bin (a Kafka
#      distribution, the apache/kafka image's /opt/kafka/bin, Confluent's
#      packages);
#   2. the jars that deploy/kafka-local.sh fetch put in
#      $LVC_CACHE/kafka-VERSION/libs (VERSION: $LVC_KAFKA_VERSION or the
#      newest there), with a small Admin-client program run by `java`
#      (that class path has kafka-clients but not the kafka-tools jar behind
#      kafka-topics.sh).
#
# Example (a single local broker):
#   deploy/kafka-local.sh start /tmp/k
#   deploy/create-topics.sh -b "$(cat /tmp/k/bootstrap)" -p 3 -r 1
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${LVC_CACHE:-${HOME:-/tmp}/.cache/levcal}

BOOTSTRAP=${LVC_BOOTSTRAP:-localhost:9092}
PARTITIONS=6
REPLICATION=3
TABLE_PARTITIONS=""
CLIENT_PROPS=""
DRY_RUN=0

log() { printf 'create-topics: %s\n' "$*" >&2; }
die() {
	log "$*"
	exit 1
}
usage() {
	sed -n '/^# Usage:/,/^# Topics/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}
positive() { [[ "$2" =~ ^[1-9][0-9]*$ ]] || die "$1 $2: allowed: a positive integer"; }

while getopts "b:p:r:t:c:nh" opt; do
	case "$opt" in
	b) BOOTSTRAP=$OPTARG ;;
	p) PARTITIONS=$OPTARG ;;
	r) REPLICATION=$OPTARG ;;
	t) TABLE_PARTITIONS=$OPTARG ;;
	c) CLIENT_PROPS=$OPTARG ;;
	n) DRY_RUN=1 ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[[ $# -eq 0 ]] || usage
positive -p "$PARTITIONS"
positive -r "$REPLICATION"
TABLE_PARTITIONS=${TABLE_PARTITIONS:-$PARTITIONS}
positive -t "$TABLE_PARTITIONS"
[[ -n "$BOOTSTRAP" ]] || die "-b: bootstrap servers are empty"
[[ -z "$CLIENT_PROPS" || -r "$CLIENT_PROPS" ]] || die "-c $CLIENT_PROPS: not a readable file"

# name partitions cleanup.policy, one topic a line.
TOPICS=(
	"${LVC_TOPIC_TRADES:-market.trades} $PARTITIONS delete"
	"${LVC_TOPIC_PRICES:-market.prices} $PARTITIONS delete"
	"${LVC_TOPIC_POSITIONS:-risk.positions} $TABLE_PARTITIONS compact"
	"${LVC_TOPIC_BALANCES:-risk.balances} $TABLE_PARTITIONS compact"
	"${LVC_TOPIC_LEVERAGE_LIMITS:-risk.leverage-limits} $PARTITIONS delete"
	"${LVC_TOPIC_LIQUIDATION_WARNINGS:-risk.liquidation-warnings} $PARTITIONS delete"
	"${LVC_TOPIC_DEAD_LETTER:-levcal.deadletter} $PARTITIONS delete"
	"${LVC_TOPIC_STATE:-levcal.state} $PARTITIONS compact"
)

if [[ $DRY_RUN -eq 1 ]]; then
	for t in "${TOPICS[@]}"; do
		read -r name parts policy <<<"$t"
		printf '%s partitions=%s replication=%s cleanup.policy=%s\n' "$name" "$parts" "$REPLICATION" "$policy"
	done
	exit 0
fi

# ---- 1. kafka-topics from a Kafka distribution ----------------------------
find_kafka_topics() {
	local c
	for c in kafka-topics.sh kafka-topics; do
		if command -v "$c" >/dev/null 2>&1; then
			command -v "$c"
			return 0
		fi
	done
	if [[ -n "${KAFKA_HOME:-}" && -x "$KAFKA_HOME/bin/kafka-topics.sh" ]]; then
		printf '%s' "$KAFKA_HOME/bin/kafka-topics.sh"
		return 0
	fi
	return 1
}

with_tool() {
	local tool=$1 name parts policy out failed=0
	local cc=()
	[[ -z "$CLIENT_PROPS" ]] || cc=(--command-config "$CLIENT_PROPS")
	for t in "${TOPICS[@]}"; do
		read -r name parts policy <<<"$t"
		"$tool" --bootstrap-server "$BOOTSTRAP" "${cc[@]}" --create --if-not-exists \
			--topic "$name" --partitions "$parts" --replication-factor "$REPLICATION" \
			--config "cleanup.policy=$policy" >/dev/null ||
			die "creating $name failed (see above)"
	done
	# Check what is there now, created by us or before.
	for t in "${TOPICS[@]}"; do
		read -r name parts policy <<<"$t"
		out=$("$tool" --bootstrap-server "$BOOTSTRAP" "${cc[@]}" --describe --topic "$name" |
			grep -m1 'PartitionCount') || die "describing $name failed"
		have_parts=$(sed -n 's/.*PartitionCount: *\([0-9][0-9]*\).*/\1/p' <<<"$out")
		have_policy=$(sed -n 's/.*cleanup\.policy=\([a-z,]*\).*/\1/p' <<<"$out")
		have_policy=${have_policy:-delete}
		check "$name" "$parts" "$policy" "$have_parts" "$have_policy" || failed=1
	done
	return $failed
}

# check NAME WANT_PARTS WANT_POLICY HAVE_PARTS HAVE_POLICY
check() {
	if [[ "$4" != "$2" ]]; then
		log "$1 has $4 partitions, levcal needs $2: topics that are joined or hold state must have the same count (recreate it, or pass -p/-t matching it)"
		return 1
	fi
	if [[ "$5" != "$3" ]]; then
		log "$1 has cleanup.policy=$5, levcal needs $3 (kafka-configs --alter --entity-type topics --entity-name $1 --add-config cleanup.policy=$3)"
		return 1
	fi
	log "$1: $4 partitions, cleanup.policy=$5: ok"
}

# ---- 2. the jars of deploy/kafka-local.sh, with an Admin-client program ---
find_libs() {
	local v d
	if [[ -n "${LVC_KAFKA_VERSION:-}" ]]; then
		d="$CACHE/kafka-$LVC_KAFKA_VERSION/libs"
		[[ -f "$d/.complete" ]] && printf '%s' "$d" && return 0
		return 1
	fi
	for v in $(find "$CACHE" -mindepth 1 -maxdepth 1 -name 'kafka-*' -printf '%f\n' 2>/dev/null |
		sed -n 's/^kafka-\([0-9][0-9.]*\)$/\1/p' | sort -t. -k1,1nr -k2,2nr -k3,3nr); do
		d="$CACHE/kafka-$v/libs"
		if [[ -f "$d/.complete" ]]; then
			printf '%s' "$d"
			return 0
		fi
	done
	return 1
}

with_java() {
	local libs=$1 work
	command -v java >/dev/null || die "java not found (the jars in $libs need it)"
	work=$(mktemp -d)
	# shellcheck disable=SC2064 # expand now: the path is fixed
	trap "rm -rf '$work'" EXIT
	cat >"$work/CreateTopics.java" <<'EOF'
import java.io.FileInputStream;
import java.util.*;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.TopicExistsException;

/* args: bootstrap replication props-file-or-"" name:partitions:policy ... */
public class CreateTopics {
    public static void main(String[] a) throws Exception {
        Properties p = new Properties();
        if (!a[2].isEmpty()) {
            try (FileInputStream in = new FileInputStream(a[2])) { p.load(in); }
        }
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, a[0]);
        short rf = Short.parseShort(a[1]);
        int failed = 0;
        try (Admin admin = Admin.create(p)) {
            for (int i = 3; i < a.length; i++) {
                String[] t = a[i].split(":");
                NewTopic nt = new NewTopic(t[0], Integer.parseInt(t[1]), rf)
                    .configs(Map.of("cleanup.policy", t[2]));
                try {
                    admin.createTopics(List.of(nt)).all().get();
                    System.err.println("create-topics: created " + t[0]);
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof TopicExistsException)) {
                        System.err.println("create-topics: creating " + t[0] + " failed: " + e.getCause());
                        System.exit(1);
                    }
                }
            }
            for (int i = 3; i < a.length; i++) {
                String[] t = a[i].split(":");
                TopicDescription d = admin.describeTopics(List.of(t[0])).allTopicNames().get().get(t[0]);
                ConfigResource r = new ConfigResource(ConfigResource.Type.TOPIC, t[0]);
                Config c = admin.describeConfigs(List.of(r)).all().get().get(r);
                ConfigEntry e = c.get("cleanup.policy");
                String policy = e == null ? "delete" : e.value();
                int parts = d.partitions().size();
                if (parts != Integer.parseInt(t[1])) {
                    System.err.println("create-topics: " + t[0] + " has " + parts + " partitions, levcal needs " + t[1]
                        + ": topics that are joined or hold state must have the same count (recreate it, or pass -p/-t matching it)");
                    failed = 1;
                } else if (!policy.equals(t[2])) {
                    System.err.println("create-topics: " + t[0] + " has cleanup.policy=" + policy + ", levcal needs " + t[2]);
                    failed = 1;
                } else {
                    System.err.println("create-topics: " + t[0] + ": " + parts + " partitions, cleanup.policy=" + policy + ": ok");
                }
            }
        }
        System.exit(failed);
    }
}
EOF
	local args=() name parts policy
	for t in "${TOPICS[@]}"; do
		read -r name parts policy <<<"$t"
		args+=("$name:$parts:$policy")
	done
	# The class path brings a logging binding (reload4j for 3.x, log4j2 for
	# 4.x): warnings and errors only, to stderr.
	printf '%s\n' 'log4j.rootLogger=WARN, err' 'log4j.appender.err=org.apache.log4j.ConsoleAppender' \
		'log4j.appender.err.target=System.err' 'log4j.appender.err.layout=org.apache.log4j.PatternLayout' \
		'log4j.appender.err.layout.ConversionPattern=%p %m (%c)%n' >"$work/log4j.properties"
	printf '%s\n' 'appender.err.type=Console' 'appender.err.name=err' 'appender.err.target=SYSTEM_ERR' \
		'appender.err.layout.type=PatternLayout' 'appender.err.layout.pattern=%p %m (%c)%n' \
		'rootLogger.level=warn' 'rootLogger.appenderRef.err.ref=err' >"$work/log4j2.properties"
	java -Dlog4j.configuration="file:$work/log4j.properties" \
		-Dlog4j2.configurationFile="$work/log4j2.properties" \
		-cp "$libs/*" "$work/CreateTopics.java" "$BOOTSTRAP" "$REPLICATION" "$CLIENT_PROPS" "${args[@]}"
}

if tool=$(find_kafka_topics); then
	log "using $tool against $BOOTSTRAP"
	with_tool "$tool" || die "some topics do not match (above)"
elif libs=$(find_libs); then
	log "using the Kafka jars in $libs against $BOOTSTRAP"
	with_java "$libs" || die "some topics do not match (above)"
else
	die "no kafka-topics.sh on PATH or in \$KAFKA_HOME/bin, and no jars from $HERE/kafka-local.sh fetch in $CACHE"
fi
log "all ${#TOPICS[@]} topics ready"
