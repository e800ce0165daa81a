#!/bin/sh
# A fake agent killed by a signal (SIGUSR1: terminates, no core file).
echo "about to be killed"
kill -USR1 $$
sleep 5
