#!/bin/sh
# A fake agent that fails on its own.
echo "error: the build is broken" >&2
exit 3
