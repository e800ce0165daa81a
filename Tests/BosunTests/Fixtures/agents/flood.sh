#!/bin/sh
# A fake agent that prints $1 lines of 100 bytes, then a stream-json success result.
yes 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' | head -n "$1"
echo '{"type":"result","subtype":"success","is_error":false,"num_turns":1,"result":"flooded","total_cost_usd":0.5,"usage":{"input_tokens":7,"output_tokens":8}}'
