#!/bin/sh
# A fake agent that leaves two orphaned grandchildren behind and exits 0: one stays in the run's session, one
# leaves it with setsid. Both are re-parented to the shim (a subreaper). Their pids go to $1.
sh -c 'sleep 1000 & echo $! >> "$1"' sh "$1"
setsid sh -c 'sleep 1000 & echo $! >> "$1"' sh "$1"
echo "left two sleepers behind"
exit 0
