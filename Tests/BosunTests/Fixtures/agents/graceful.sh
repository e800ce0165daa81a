#!/bin/sh
# A fake agent that stops cleanly on SIGTERM: it says so in the log and exits 0.
trap 'echo "stopping on SIGTERM"; exit 0' TERM
echo "working"
while :; do sleep 1; done
