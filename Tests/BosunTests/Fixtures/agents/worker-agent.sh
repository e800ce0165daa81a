#!/bin/sh
# A fake agent for the worker's process-level tests; $BOSUN_TEST_MODE says how it behaves:
#   sleep-N      works N seconds, writes the analysis, succeeds
#   hang         ignores SIGTERM and never ends (the timeout must kill its group)
#   rate-limit   reports a rejected rate limit in Claude Code's stream-json and exits 1
#   chatty-N     prints "line 1" … "line N", one every 0.2 s, then succeeds like sleep-N
#   link-brief:F appends to F.seen whether its brief is a regular file or a symlink, then leaves a symlink to F in
#                the brief's place (as a hostile agent would, for the next stage's brief) and succeeds
mkdir -p .bosun
case "$BOSUN_TEST_MODE" in
sleep-*)
    sleep "${BOSUN_TEST_MODE#sleep-}"
    echo "analysis" > .bosun/analysis.md
    echo '{"type":"result","subtype":"success","is_error":false,"result":"ok","usage":{"input_tokens":1,"output_tokens":1}}'
    ;;
chatty-*)
    count=${BOSUN_TEST_MODE#chatty-}
    i=1
    while [ "$i" -le "$count" ]; do
        echo "line $i"
        sleep 0.2
        i=$((i + 1))
    done
    echo "analysis" > .bosun/analysis.md
    echo '{"type":"result","subtype":"success","is_error":false,"result":"ok","usage":{"input_tokens":1,"output_tokens":1}}'
    ;;
link-brief:*)
    target=${BOSUN_TEST_MODE#link-brief:}
    if [ -L .bosun/brief.md ]; then echo link >> "$target.seen"; elif [ -f .bosun/brief.md ]; then echo regular >> "$target.seen"; else echo missing >> "$target.seen"; fi
    ln -sf "$target" .bosun/brief.md
    echo "analysis" > .bosun/analysis.md
    echo '{"type":"result","subtype":"success","is_error":false,"result":"ok","usage":{"input_tokens":1,"output_tokens":1}}'
    ;;
hang)
    trap '' TERM
    sleep 1000 &
    sleep 1000 &
    wait
    ;;
rate-limit)
    echo '{"type":"rate_limit_event","rate_limit_info":{"status":"rejected","resetsAt":'$(( $(date +%s) + 3600 ))',"rateLimitType":"five_hour"}}'
    echo '{"type":"result","subtype":"error_during_execution","is_error":true,"result":"rate limited"}'
    exit 1
    ;;
*)
    echo "unknown mode $BOSUN_TEST_MODE" >&2
    exit 2
    ;;
esac
