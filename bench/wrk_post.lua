-- wrk script: POST the body in file $BENCH_BODY_FILE as JSON. With
-- $BENCH_LIMIT set, each thread stops after that many responses and appends a
-- line to $BENCH_DONE_FILE; wrk itself waits out -d, so bench/load.py sends
-- it SIGINT (it then reports as usual) once every thread has written its line.
local f = assert(io.open(os.getenv("BENCH_BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

local limit = tonumber(os.getenv("BENCH_LIMIT") or "")
if limit then
  local seen = 0
  function response(status, headers, body)
    seen = seen + 1
    if seen == limit then
      local done = assert(io.open(os.getenv("BENCH_DONE_FILE"), "a"))
      done:write("done\n")
      done:close()
      wrk.thread:stop()
    end
  end
end
