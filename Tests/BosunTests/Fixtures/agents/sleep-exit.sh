#!/bin/sh
# A fake agent that works for $1 seconds and exits with code $2.
sleep "$1"
exit "$2"
