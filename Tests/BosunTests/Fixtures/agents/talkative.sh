#!/bin/sh
# A fake agent that prints a numbered line every second for $1 seconds, then succeeds.
i=1
while [ "$i" -le "$1" ]; do
    echo "working: step $i"
    i=$((i + 1))
    sleep 1
done
