#!/bin/sh
# A fake agent that does its work (writes the file named by $1) and reports success in Claude Code's stream-json.
printf 'work done in %s\n' "$(pwd)" > "$1"
echo '{"type":"system","subtype":"init","cwd":"'"$(pwd)"'","session_id":"4b1d6f2e-0c55-4e0a-9a57-2f4f1c3d9e10","tools":["Bash","Edit"],"model":"claude-sonnet-4-5-20250929","permissionMode":"bypassPermissions"}'
echo '{"type":"result","subtype":"success","is_error":false,"duration_ms":1200,"num_turns":2,"result":"Wrote the file.","session_id":"4b1d6f2e-0c55-4e0a-9a57-2f4f1c3d9e10","total_cost_usd":0.0123,"usage":{"input_tokens":100,"output_tokens":20}}'
exit 0
