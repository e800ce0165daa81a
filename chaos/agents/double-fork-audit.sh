#!/bin/sh
# The zombie audit's agent (chaos/scenarios/zombie_audit.py): like Tests/BosunTests/Fixtures/agents/double-fork.sh it
# leaves two grandchildren behind and exits 0, one in the run's session and one that left it with setsid. It records,
# in $1/$BOSUN_RUN_ID, what the checker needs to find them again even after pid reuse:
#   agent PID SID START         itself (its session is the run's session)
#   stay PID SID START          the grandchild that stays in the run's session
#   escaped PID SID START       the grandchild in a session of its own (SID is that session)
# START is field 22 of /proc/PID/stat (clock ticks since boot), so PID+START names one process for good.
record="$1/$BOSUN_RUN_ID"
identity() { cut -d' ' -f1,6,22 "/proc/$1/stat"; }
echo "agent $(identity $$)" > "$record.tmp"
sh -c 'sleep 1000 & echo "stay $(cut -d" " -f1,6,22 /proc/$!/stat)" >> "$1"' sh "$record.tmp"
setsid sh -c 'sleep 1000 & echo "escaped $(cut -d" " -f1,6,22 /proc/$!/stat)" >> "$1"' sh "$record.tmp"
mv "$record.tmp" "$record"
echo "left two sleepers behind"
exit 0
