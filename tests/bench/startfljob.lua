-- wrk script of the small-request benchmark (tests/bench/run.sh): every request POSTs the same
-- binary startFLJob envelope, read from the file named by $BENCH_BODY (written by
-- `fl-server --make_envelope`). Both targets (fl-server and llhttp_responder) get the same bytes.
local path = os.getenv("BENCH_BODY")
if not path then
	error("BENCH_BODY must name the envelope file")
end
local f = assert(io.open(path, "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/octet-stream"
