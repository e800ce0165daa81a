#!/bin/sh
# A fake agent that ignores SIGTERM (so do its children: an ignored signal is inherited) and never ends.
# It records its children's pids in $1.
trap '' TERM
sleep 1000 &
echo $! >> "$1"
sleep 1000 &
echo $! >> "$1"
wait
